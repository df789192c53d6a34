"""The management API (`/api/v1/payouts`) and the partner API (`/api/partner/v1/payouts`): answers, problems,
and the exports' content (CSV columns and amounts, the PDF's text)."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from pypdf import PdfReader

from affiliates.choices import AffiliateStatus
from affiliates.tests.factories import AffiliateFactory, BrandFactory
from commissions.choices import EntryKind, EntryStatus
from commissions.models import CommissionEntry
from commissions.payouts import services
from commissions.payouts.models import PayoutStatement

from .factories import EntryFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _december():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def brand():
    return BrandFactory(slug="lucky-casino", name="Lucky Casino")


@pytest.fixture
def affiliate():
    return AffiliateFactory(
        name="Acme Media", payment_method="bank_transfer",
        payment_details={"iban": "MT84MALT011000012345MTLCAST001S", "swift": "MALTMTMT", "account_holder": "Acme"},
    )  # fmt: skip


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def statement_for(affiliate, brand, *amounts) -> PayoutStatement:
    for amount in amounts:
        EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal(amount))
    [statement] = services.statement_generate(affiliate=affiliate, period="2026-10").statements
    return statement


def test_generate_for_one_affiliate_answers_201_then_200_with_the_same_statement(mgmt, brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("250.00"))
    first = mgmt.post("/api/v1/payouts/generate", {"period": "2026-10", "affiliate": affiliate.pk}, format="json")
    assert first.status_code == 201
    body = first.json()
    [row] = body["results"]
    assert (row["affiliate"], row["period"], row["amount"], row["currency"], row["status"]) == (
        affiliate.pk, "2026-10", "250.00", "EUR", "draft",
    )  # fmt: skip
    assert (row["brand"], row["entries"], row["total"], row["carry_out"]) == ("lucky-casino", 1, "250.00", "0.00")
    again = mgmt.post("/api/v1/payouts/generate", {"period": "2026-10", "affiliate": affiliate.pk}, format="json")
    assert again.status_code == 200
    assert again.json()["results"][0]["id"] == row["id"] and again.json()["created"] == 0


def test_generate_for_everyone_lists_the_affiliates_it_skipped_and_why(mgmt, brand, affiliate):
    suspended = AffiliateFactory(status=AffiliateStatus.SUSPENDED)
    EntryFactory(affiliate=affiliate, brand=brand)
    EntryFactory(affiliate=suspended, brand=brand)
    gbp = AffiliateFactory(payout_currency="GBP")
    EntryFactory(affiliate=gbp, brand=brand)
    response = mgmt.post("/api/v1/payouts/generate", {"period": "2026-10"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert [r["affiliate"] for r in body["results"]] == [affiliate.pk]
    assert body["skipped"] == [
        {"affiliate": gbp.pk, "code": "missing_fx_rate", "message": body["skipped"][0]["message"]}
    ]
    assert "GBP" in body["skipped"][0]["message"]


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"period": "2026-13", "affiliate": 0}, "validation_error", "affiliate"),
    ({"affiliate": 1}, "validation_error", "period"),
    ({"period": "2026-10", "surprise": 1}, "validation_error", "surprise"),
])  # fmt: skip
def test_generate_refuses_bad_input_as_problem_json(mgmt, body, code, field):
    response = mgmt.post("/api/v1/payouts/generate", body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code and field in {e["field"] for e in response.json()["errors"]}


def test_a_bad_period_and_a_paid_period_answer_their_codes(mgmt, brand, affiliate):
    assert mgmt.post("/api/v1/payouts/generate", {"period": "2026-W99", "affiliate": affiliate.pk},
                     format="json").json()["code"] == "invalid_period"  # fmt: skip
    statement = statement_for(affiliate, brand, "300.00")
    services.statement_mark_paid(statement=services.statement_approve(statement=statement), reference="R")
    response = mgmt.post("/api/v1/payouts/generate", {"period": "2026-10", "affiliate": affiliate.pk}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "period_already_paid")


def test_approve_then_approve_again_is_409_and_mark_paid_needs_a_reference(mgmt, brand, affiliate):
    statement = statement_for(affiliate, brand, "300.00")
    url = f"/api/v1/payouts/{statement.pk}"
    assert mgmt.post(f"{url}/approve", {}, format="json").json()["status"] == "approved"
    twice = mgmt.post(f"{url}/approve", {}, format="json")
    assert (twice.status_code, twice.json()["code"]) == (409, "statement_already_approved")
    assert twice["Content-Type"] == "application/problem+json"
    missing = mgmt.post(f"{url}/mark-paid", {}, format="json")
    assert (missing.status_code, missing.json()["code"]) == (400, "reference_required")
    bad_method = mgmt.post(f"{url}/mark-paid", {"reference": "R", "method": "cash"}, format="json")
    assert bad_method.status_code == 400
    paid = mgmt.post(f"{url}/mark-paid", {"reference": "SEPA-2026-12-01", "paid_on": "2026-12-02"}, format="json")
    assert paid.status_code == 200
    row = paid.json()
    assert (row["status"], row["payment_reference"], row["paid_on"], row["payment_method"]) == (
        "paid", "SEPA-2026-12-01", "2026-12-02", "bank_transfer",
    )  # fmt: skip
    assert CommissionEntry.objects.get().status == EntryStatus.PAID


def test_cancel_and_adjustments_through_the_api(mgmt, brand, affiliate):
    statement = statement_for(affiliate, brand, "300.00")
    url = f"/api/v1/payouts/{statement.pk}"
    no_reason = mgmt.post(f"{url}/adjustments", {"amount": "-20.00"}, format="json")
    assert (no_reason.status_code, no_reason.json()["code"]) == (400, "reason_required")
    added = mgmt.post(f"{url}/adjustments", {"amount": "-20.00", "reason": "Fraudulent lead"}, format="json")
    assert added.status_code == 201
    assert (added.json()["total"], added.json()["adjustments"][0]["reason"]) == ("280.00", "Fraudulent lead")
    assert mgmt.post(f"{url}/cancel", {}, format="json").json()["code"] == "reason_required"
    cancelled = mgmt.post(f"{url}/cancel", {"reason": "Redo with November"}, format="json").json()
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "Redo with November")


def test_unknown_statement_is_404_problem(mgmt):
    response = mgmt.post("/api/v1/payouts/999999/approve", {}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_generate_with_an_idempotency_key_replays_the_first_answer(mgmt, brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand)
    headers = {"HTTP_IDEMPOTENCY_KEY": "gen-2026-10"}
    first = mgmt.post("/api/v1/payouts/generate", {"period": "2026-10"}, format="json", **headers)
    replay = mgmt.post("/api/v1/payouts/generate", {"period": "2026-10"}, format="json", **headers)
    assert (first.status_code, replay.status_code, replay["Idempotent-Replayed"]) == (201, 201, "true")


def test_list_filters_by_status_and_period(mgmt, brand, affiliate):
    statement = statement_for(affiliate, brand, "300.00")
    assert [r["id"] for r in mgmt.get("/api/v1/payouts?status=draft&period=2026-10").json()["results"]] == [
        statement.pk
    ]
    assert mgmt.get("/api/v1/payouts?status=paid").json()["results"] == []
    assert mgmt.get(f"/api/v1/payouts/{statement.pk}").json()["explanation"].startswith("1 approved entry")


def test_the_period_csv_has_one_row_per_approved_statement_with_payment_details_and_amounts(mgmt, brand, affiliate):
    services.statement_approve(statement=statement_for(affiliate, brand, "200.00", "55.55"))
    other = AffiliateFactory(name="=HYPERLINK(evil)", payment_method="skrill", payment_details={"email": "p@x.io"})
    statement_for(other, brand, "300.00")  # still a draft: not in the default export
    response = mgmt.get("/api/v1/payouts/export?period=2026-10")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="payouts-2026-10.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert (row["affiliate_name"], row["brand"], row["period"], row["status"], row["currency"]) == (
        "Acme Media", "lucky-casino", "2026-10", "approved", "EUR",
    )  # fmt: skip
    assert (row["amount"], row["vat_amount"], row["amount_due"]) == ("255.55", "0.00", "255.55")
    assert (row["iban"], row["swift"], row["account_holder"], row["payment_method"]) == (
        "MT84MALT011000012345MTLCAST001S", "MALTMTMT", "Acme", "bank_transfer",
    )  # fmt: skip
    every = list(csv.DictReader(io.StringIO(mgmt.get("/api/v1/payouts/export?period=2026-10&status=all")
                                            .content.decode())))  # fmt: skip
    assert {r["affiliate_name"] for r in every} == {"Acme Media", "'=HYPERLINK(evil)"}  # never a formula
    assert mgmt.get("/api/v1/payouts/export").json()["code"] == "validation_error"


def test_the_entries_csv_lists_every_entry_the_carry_and_the_adjustments_adding_up_to_the_total(mgmt, brand, affiliate):
    october = statement_for(affiliate, brand, "60.00")
    services.statement_approve(statement=october)
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("70.10"), kind=EntryKind.REVSHARE,
                 occurred_at=dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))  # fmt: skip
    [november] = services.statement_generate(affiliate=affiliate, period="2026-11").statements
    services.statement_adjust(statement=november, amount=Decimal("-5.00"), reason="Bonus abuse")
    response = mgmt.get(f"/api/v1/payouts/{november.pk}/entries-csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["kind"], r["amount"], r["amount_in_payout_currency"]) for r in rows] == [
        ("revshare", "70.10", "70.10"), ("carried_in", "60.00", "60.00"), ("manual_adjustment", "-5.00", "-5.00"),
    ]  # fmt: skip
    assert sum(Decimal(r["amount_in_payout_currency"]) for r in rows) == Decimal("125.10")
    november.refresh_from_db()
    assert november.total == Decimal("125.10")


def test_the_statement_pdf_shows_the_affiliate_period_lines_and_totals(mgmt, brand, affiliate):
    statement = statement_for(affiliate, brand, "200.00", "55.55")
    services.statement_mark_paid(statement=services.statement_approve(statement=statement), reference="SEPA-9")
    response = mgmt.get(f"/api/v1/payouts/{statement.pk}/pdf", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert f"Payout statement #{statement.pk}, 2026-10 (Lucky Casino)" in text
    assert "Acme Media" in text and "2026-10-01 to 2026-10-31" in text
    assert "Amount payable" in text and "255.55 EUR" in text and "200.00 EUR" in text and "55.55 EUR" in text
    assert "reference SEPA-9" in text


def test_the_invoice_pdf_carries_the_number_vat_and_gross(mgmt, brand):
    affiliate = AffiliateFactory(name="Vat Partner", invoice_required=True, vat_number="MT999", vat_rate=Decimal("18"))
    statement = services.statement_approve(statement=statement_for(affiliate, brand, "100.00"))
    text = pdf_text(mgmt.get(f"/api/v1/payouts/{statement.pk}/invoice-pdf").content)
    assert "Invoice LUCKY-CASINO-000001" in text and "VAT number MT999" in text
    assert "100.00 EUR" in text and "18.00 EUR" in text and "118.00 EUR" in text
    row = mgmt.get(f"/api/v1/payouts/{statement.pk}").json()
    assert (row["invoice"]["number"], row["invoice"]["gross"]) == ("LUCKY-CASINO-000001", "118.00")
    csv_row = next(csv.DictReader(io.StringIO(mgmt.get("/api/v1/payouts/export?period=2026-10").content.decode())))
    assert (csv_row["amount"], csv_row["vat_amount"], csv_row["amount_due"]) == ("100.00", "18.00", "118.00")
    plain = statement_for(AffiliateFactory(), brand, "100.00")
    assert mgmt.get(f"/api/v1/payouts/{plain.pk}/invoice-pdf").json()["code"] == "no_invoice"


def test_the_partner_sees_only_its_own_approved_and_paid_statements(api, brand, affiliate):
    mine = services.statement_approve(statement=statement_for(affiliate, brand, "300.00"))
    stranger = AffiliateFactory()
    theirs = services.statement_approve(statement=statement_for(stranger, brand, "400.00"))
    partner = api("partner", affiliate=affiliate)
    rows = partner.get("/api/partner/v1/payouts").json()["results"]
    assert [(r["id"], r["amount"], r["currency"], r["status"]) for r in rows] == [
        (mine.pk, "300.00", "EUR", "approved")
    ]
    assert partner.get(f"/api/partner/v1/payouts/{mine.pk}").json()["period"] == "2026-10"
    assert partner.get(f"/api/partner/v1/payouts/{theirs.pk}").status_code == 404
    assert partner.get(f"/api/partner/v1/payouts/{theirs.pk}/pdf").status_code == 404
    pdf = partner.get(f"/api/partner/v1/payouts/{mine.pk}/pdf")
    assert pdf["Content-Type"] == "application/pdf" and "300.00 EUR" in pdf_text(pdf.content)


def test_a_partner_never_sees_a_draft(api, brand, affiliate):
    draft = statement_for(affiliate, brand, "300.00")
    partner = api("partner", affiliate=affiliate)
    assert partner.get("/api/partner/v1/payouts").json()["results"] == []
    assert partner.get(f"/api/partner/v1/payouts/{draft.pk}").status_code == 404


def test_a_partner_key_cannot_use_the_management_payouts(api, affiliate):
    assert api("partner", affiliate=affiliate).get("/api/v1/payouts").status_code == 403
