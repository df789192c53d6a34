"""Statements from the ledger: generation, threshold and negative carryover, FX, adjustments, approval,
payment, cancellation, invoices, and every refusal with its code, leaving the money as it was."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from affiliates.choices import AffiliateStatus, PayoutFrequency, PayoutScope
from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealAssignmentFactory, DealFactory
from commissions.choices import EntryKind, EntryStatus
from commissions.models import CommissionEntry
from commissions.payouts import services
from commissions.payouts.choices import StatementStatus
from commissions.payouts.models import Invoice, PayoutStatement, StatementLine
from core.problems import Problem
from integrations.webhooks.models import OutboxEvent

from .factories import EntryFactory, fx

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC)
OCT, NOV = dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC), dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)


def generate(affiliate, period="2026-10", **kw):
    return services.statement_generate(affiliate=affiliate, period=period, now=NOW, **kw)


def one(affiliate, period="2026-10", **kw) -> PayoutStatement:
    [statement] = generate(affiliate, period, **kw).statements
    return statement


def problem_code(call) -> str:
    with pytest.raises(Problem) as caught:
        call()
    return caught.value.code


@pytest.fixture
def brand():
    return BrandFactory(timezone="Europe/Malta")


@pytest.fixture
def affiliate():
    return AffiliateFactory(payout_threshold=Decimal("100.00"), payout_currency="EUR", payment_method="bank_transfer")


def test_a_month_of_approved_entries_becomes_one_draft_with_their_sum(brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("200.00"))
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("35.55"), kind=EntryKind.REVSHARE)
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("99.00"), status=EntryStatus.ON_HOLD)
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("80.00"), occurred_at=NOV)  # next month
    statement = one(affiliate)
    assert statement.status == StatementStatus.DRAFT
    assert (statement.entries_total, statement.total, statement.amount) == (Decimal("235.55"),) * 3
    assert statement.carry_out == 0
    assert statement.lines.count() == 2
    assert (statement.period_start, statement.period_end) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))


def test_generating_again_is_idempotent_and_refreshes_a_draft_with_newly_approved_entries(brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("200.00"))
    first = one(affiliate)
    again = one(affiliate)
    assert again.pk == first.pk and again.total == Decimal("200.00") and again.lines.count() == 1
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("50.00"))
    refreshed = one(affiliate)
    assert refreshed.pk == first.pk and refreshed.total == Decimal("250.00")
    assert PayoutStatement.objects.count() == 1


def test_nothing_approved_makes_no_statement(brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, status=EntryStatus.PENDING)
    assert generate(affiliate).statements == []


def test_a_total_under_the_threshold_is_carried_into_the_next_month_and_paid_with_it(brand, affiliate):
    fx("EUR", "1", dt.date(2026, 10, 31))
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("60.00"))
    october = one(affiliate)
    assert (october.total, october.amount, october.carry_out) == (Decimal("60.00"), 0, Decimal("60.00"))
    assert "Under the payout threshold of 100.00 EUR" in october.explanation
    services.statement_approve(statement=october)
    assert problem_code(lambda: services.statement_mark_paid(statement=october, reference="X")) == "nothing_to_pay"
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("70.00"), occurred_at=NOV)
    november = one(affiliate, "2026-11")
    assert november.carried_from_id == october.pk
    assert (november.carried_in, november.total, november.amount) == (Decimal("60.00"), Decimal("130.00"),
                                                                      Decimal("130.00"))  # fmt: skip
    services.statement_approve(statement=november)
    services.statement_mark_paid(statement=november, reference="SEPA-1", paid_on=dt.date(2026, 12, 5))
    october.refresh_from_db()
    assert october.status == StatementStatus.PAID
    assert october.payment_reference == f"carried into #{november.pk}: SEPA-1"
    assert set(CommissionEntry.objects.values_list("status", flat=True)) == {EntryStatus.PAID}


def test_approving_a_statement_whose_carry_comes_from_a_draft_is_refused(brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("60.00"))
    october = one(affiliate)
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("70.00"), occurred_at=NOV)
    november = one(affiliate, "2026-11")
    assert problem_code(lambda: services.statement_approve(statement=november)) == "previous_statement_not_approved"
    assert problem_code(lambda: services.statement_cancel(statement=october, reason="redo")) == "carry_taken"
    assert problem_code(
        lambda: services.statement_adjust(statement=october, amount=Decimal("5"), reason="x")
    ) == "carry_taken"  # fmt: skip


@pytest.mark.parametrize(("carries", "carry_out", "written_off"), [
    (True, Decimal("-40.00"), Decimal("0")),
    (False, Decimal("0"), Decimal("-40.00")),
])  # fmt: skip
def test_a_negative_total_carries_over_only_where_the_deal_says(brand, affiliate, carries, carry_out, written_off):
    deal = DealFactory(brand=brand, terms={"kind": "revshare", "currency": "EUR", "revshare_percent": "30",
                                           "negative_carryover": carries})  # fmt: skip
    DealAssignmentFactory(deal=deal, affiliate=affiliate)
    version = deal.current
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("-40.00"), kind=EntryKind.REVERSAL, deal=deal,
                 deal_version=version)  # fmt: skip
    statement = one(affiliate)
    assert (statement.total, statement.amount) == (Decimal("-40.00"), 0)
    assert (statement.carry_out, statement.written_off) == (carry_out, written_off)
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("300.00"), occurred_at=NOV)
    services.statement_approve(statement=statement)
    november = one(affiliate, "2026-11")
    assert november.total == Decimal("300.00") + carry_out


def test_entries_in_another_currency_are_converted_at_the_period_end_rate_and_the_rate_is_kept(brand):
    affiliate = AffiliateFactory(payout_currency="USD", payout_threshold=Decimal("0"))
    fx("USD", "0.9", dt.date(2026, 10, 30))  # 1 USD = 0.9 EUR: 1 EUR = 1.1111111111 USD
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("90.00"), currency="EUR")
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("10.00"), currency="USD")
    statement = one(affiliate)
    assert statement.currency == "USD"
    assert statement.fx_rates[0] == {"currency": "EUR", "amount": "90.000", "rate": "1.1111111111",
                                     "rate_date": "2026-10-30", "converted": "100.00"}  # fmt: skip
    assert statement.total == Decimal("110.00")
    assert statement.fx_date == dt.date(2026, 10, 31)


def test_a_missing_fx_rate_is_refused_and_writes_nothing(brand):
    affiliate = AffiliateFactory(payout_currency="GBP")
    EntryFactory(affiliate=affiliate, brand=brand)
    with pytest.raises(Problem) as caught:
        generate(affiliate)
    problem = caught.value
    assert problem.code == "missing_fx_rate" and problem.status_code == 422
    assert "GBP" in str(problem.detail)
    assert not PayoutStatement.objects.exists() and not StatementLine.objects.exists()


def test_a_suspended_affiliate_gets_no_statement_and_no_payment(brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("300.00"))
    statement = one(affiliate)
    services.statement_approve(statement=statement)
    affiliate.status, affiliate.status_reason = AffiliateStatus.SUSPENDED, "fraud review"
    affiliate.save()
    assert problem_code(lambda: services.statement_mark_paid(statement=statement, reference="R")) == (
        "affiliate_not_active"
    )
    EntryFactory(affiliate=affiliate, brand=brand, occurred_at=NOV)
    assert problem_code(lambda: generate(affiliate, "2026-11")) == "affiliate_not_active"
    assert CommissionEntry.objects.filter(status=EntryStatus.PAID).count() == 0


def test_approving_twice_is_a_conflict_and_announces_once(brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("300.00"))
    statement = one(affiliate)
    services.statement_approve(statement=statement)
    assert problem_code(lambda: services.statement_approve(statement=statement)) == "statement_already_approved"
    assert OutboxEvent.objects.filter(type="payout.approved").count() == 1
    data = OutboxEvent.objects.get(type="payout.approved").data
    assert (data["id"], data["amount"], data["currency"], data["status"]) == (statement.pk, "300.00", "EUR",
                                                                               "approved")  # fmt: skip


def test_marking_paid_needs_a_reference_and_an_approved_statement(brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("300.00"))
    statement = one(affiliate)
    assert problem_code(lambda: services.statement_mark_paid(statement=statement, reference="  ")) == (
        "reference_required"
    )
    assert problem_code(lambda: services.statement_mark_paid(statement=statement, reference="R")) == "invalid_status"
    services.statement_approve(statement=statement)
    paid = services.statement_mark_paid(statement=statement, reference="SEPA-77")
    assert (paid.status, paid.payment_reference, paid.payment_method) == ("paid", "SEPA-77", "bank_transfer")
    assert problem_code(lambda: services.statement_mark_paid(statement=statement, reference="R2")) == (
        "statement_already_paid"
    )
    assert CommissionEntry.objects.get().status == EntryStatus.PAID
    assert OutboxEvent.objects.filter(type="payout.paid").count() == 1


def test_marking_paid_without_a_method_on_file_is_refused(brand):
    affiliate = AffiliateFactory(payment_method="")
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("300.00"))
    statement = services.statement_approve(statement=one(affiliate))
    assert problem_code(lambda: services.statement_mark_paid(statement=statement, reference="R")) == (
        "payment_method_required"
    )
    assert services.statement_mark_paid(statement=statement, reference="R", method="skrill").payment_method == "skrill"


def test_regenerating_a_paid_or_approved_period_is_refused(brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("300.00"))
    statement = services.statement_approve(statement=one(affiliate))
    assert problem_code(lambda: generate(affiliate)) == "statement_already_approved"
    services.statement_mark_paid(statement=statement, reference="R")
    assert problem_code(lambda: generate(affiliate)) == "period_already_paid"


def test_a_paid_entry_is_locked_and_a_reversal_after_payment_lands_in_the_next_statement(brand, affiliate):
    entry = EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("300.00"))
    services.statement_mark_paid(statement=services.statement_approve(statement=one(affiliate)), reference="R")
    CommissionEntry.objects.create(
        slot=entry.slot, seq=1, kind=EntryKind.REVERSAL, status=EntryStatus.APPROVED, affiliate=affiliate,
        brand=brand, amount=Decimal("-300.00"), currency="EUR", period="2026-10", occurred_at=entry.occurred_at,
        explanation="Reversal (chargeback)", reverses=entry,
    )  # fmt: skip
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("450.00"), occurred_at=NOV)
    november = one(affiliate, "2026-11")
    assert november.total == Decimal("150.00")
    assert set(november.lines.values_list("amount", flat=True)) == {Decimal("-300.000"), Decimal("450.000")}
    assert not november.lines.filter(entry=entry).exists()


def test_a_statement_refuses_to_pay_when_an_entry_is_no_longer_approved(brand, affiliate):
    entry = EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("300.00"))
    statement = services.statement_approve(statement=one(affiliate))
    CommissionEntry.objects.filter(pk=entry.pk).update(status=EntryStatus.REVERSED)
    assert problem_code(lambda: services.statement_mark_paid(statement=statement, reference="R")) == "entries_changed"
    statement.refresh_from_db()
    assert statement.status == StatementStatus.APPROVED


def test_adjustments_need_a_reason_and_a_draft_and_change_the_total(brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("300.00"))
    statement = one(affiliate)
    assert problem_code(lambda: services.statement_adjust(statement=statement, amount=Decimal("5"), reason="")) == (
        "reason_required"
    )
    assert problem_code(lambda: services.statement_adjust(statement=statement, amount=Decimal("0"), reason="x")) == (
        "invalid_amount"
    )
    services.statement_adjust(statement=statement, amount=Decimal("-25.505"), reason="Duplicate lead")
    statement.refresh_from_db()
    assert (statement.adjustments_total, statement.total, statement.amount) == (
        Decimal("-25.50"), Decimal("274.50"), Decimal("274.50"),
    )  # fmt: skip
    services.statement_approve(statement=statement)
    assert problem_code(lambda: services.statement_adjust(statement=statement, amount=Decimal("1"), reason="x")) == (
        "statement_not_draft"
    )


def test_cancelling_needs_a_reason_frees_the_entries_and_a_paid_one_cannot_be_cancelled(brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("300.00"))
    statement = one(affiliate)
    assert problem_code(lambda: services.statement_cancel(statement=statement, reason=" ")) == "reason_required"
    services.statement_cancel(statement=statement, reason="Wrong threshold")
    redo = one(affiliate)
    assert redo.pk != statement.pk and redo.total == Decimal("300.00")
    services.statement_mark_paid(statement=services.statement_approve(statement=redo), reference="R")
    assert problem_code(lambda: services.statement_cancel(statement=redo, reason="x")) == "statement_paid"


def test_an_invoice_is_numbered_per_brand_on_approval_with_vat(affiliate):
    casino, broker = BrandFactory(slug="casino"), BrandFactory(slug="broker")
    invoicing = AffiliateFactory(invoice_required=True, vat_number="MT12345678", vat_rate=Decimal("18.00"),
                                 payment_method="bank_transfer")  # fmt: skip
    for who in (invoicing, affiliate):
        EntryFactory(affiliate=who, brand=casino, amount=Decimal("200.00"))
        EntryFactory(affiliate=who, brand=broker, amount=Decimal("100.00"))
    statements = generate(invoicing).statements
    assert len(statements) == 2  # per brand by default
    for statement in statements:
        services.statement_approve(statement=statement)
    services.statement_approve(statement=one(affiliate, brand=casino))
    invoices = {i.statement.brand.slug: i for i in Invoice.objects.select_related("statement__brand")}
    assert set(invoices) == {"casino", "broker"}
    assert invoices["casino"].number == "CASINO-000001" and invoices["broker"].number == "BROKER-000001"
    assert (invoices["casino"].net, invoices["casino"].vat_amount, invoices["casino"].gross) == (
        Decimal("200.00"), Decimal("36.00"), Decimal("236.00"),
    )  # fmt: skip
    services.statement_cancel(statement=invoices["casino"].statement, reason="Wrong VAT")
    again = services.statement_approve(statement=one(invoicing, brand=casino))
    assert Invoice.objects.get(statement=again).number == "CASINO-000002"  # a void number is never reused
    assert Invoice.objects.get(number="CASINO-000001").voided_at is not None


def test_an_affiliate_paid_across_brands_gets_one_statement(affiliate):
    affiliate.payout_scope = PayoutScope.ALL_BRANDS
    affiliate.save()
    for slug in ("a", "b"):
        EntryFactory(affiliate=affiliate, brand=BrandFactory(slug=slug), amount=Decimal("80.00"))
    statement = one(affiliate)
    assert statement.brand is None and statement.scope == "all" and statement.total == Decimal("160.00")


def test_weekly_affiliates_are_stated_per_iso_week_and_a_monthly_period_is_refused(brand):
    affiliate = AffiliateFactory(payout_frequency=PayoutFrequency.WEEKLY, payout_threshold=Decimal("0"))
    EntryFactory(affiliate=affiliate, brand=brand, occurred_at=dt.datetime(2026, 11, 4, 12, tzinfo=dt.UTC))
    EntryFactory(affiliate=affiliate, brand=brand, occurred_at=dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC))
    assert problem_code(lambda: generate(affiliate, "2026-11")) == "period_frequency_mismatch"
    week = one(affiliate, "2026-W45")
    assert (week.period_start, week.period_end, week.lines.count()) == (dt.date(2026, 11, 2), dt.date(2026, 11, 8), 1)


@pytest.mark.parametrize(
    "period", ["2026-13", "2026/10", "2026-W60", "2026-11-10..2026-11-01", "", "2026-02-30..2026-03-01"]
)
def test_a_bad_period_is_a_clear_400(affiliate, period):
    assert problem_code(lambda: generate(affiliate, period)) == "invalid_period"


def test_a_period_not_over_yet_in_the_brand_time_zone_is_refused(brand, affiliate):
    EntryFactory(affiliate=affiliate, brand=brand, occurred_at=NOV)
    with time_machine.travel(dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.UTC)):  # 23:30 in Malta
        assert problem_code(lambda: services.statement_generate(affiliate=affiliate, period="2026-11")) == "period_open"
    with time_machine.travel(dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)):  # 00:30 on 1 December in Malta
        assert services.statement_generate(affiliate=affiliate, period="2026-11").statements


def test_the_beat_run_states_every_active_affiliate_once_and_skips_the_suspended(brand, affiliate):
    other = AffiliateFactory(status=AffiliateStatus.SUSPENDED)
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("300.00"), occurred_at=NOV)
    EntryFactory(affiliate=other, brand=brand, amount=Decimal("300.00"), occurred_at=NOV)
    result = services.statements_generate_closed(now=NOW)
    again = services.statements_generate_closed(now=NOW)
    assert (result.created, again.created, again.refreshed) == (1, 0, 1)
    assert PayoutStatement.objects.get().affiliate == affiliate


def test_an_entry_approved_while_lines_are_copied_is_counted_in_the_total(brand, affiliate, monkeypatch):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("200.00"))
    late = EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("40.00"), status=EntryStatus.ON_HOLD)
    copy = services._insert_lines

    def approve_then_copy(*args):
        # a hold released by another worker between the sums and the copy
        CommissionEntry.objects.filter(pk=late.pk).update(status=EntryStatus.APPROVED)
        copy(*args)

    monkeypatch.setattr(services, "_insert_lines", approve_then_copy)
    statement = one(affiliate)
    assert statement.lines.count() == 2
    statement.refresh_from_db()
    assert (statement.entries_total, statement.total, statement.amount) == (Decimal("240.00"),) * 3
