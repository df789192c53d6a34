"""Payout statements in the portal: the partner's approved and paid statements with their PDF; drafts and
other partners' statements are not found."""

from decimal import Decimal

import pytest

from commissions.payouts import services as payouts
from commissions.payouts.tests.factories import EntryFactory

pytestmark = pytest.mark.django_db


def statement_for(affiliate, brand, amount: str, *, approve: bool = True):
    EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal(amount), slot=f"payout-test:{affiliate.pk}:{amount}")
    [statement] = payouts.statement_generate(affiliate=affiliate, period="2026-10").statements
    return payouts.statement_approve(statement=statement) if approve else statement


def test_the_partner_sees_its_approved_statement_and_downloads_the_pdf(portal, world):
    statement = statement_for(world.affiliate, world.brand, "300.00")
    page = portal.get("/portal/statements/")
    assert [s.pk for s in page.context["statements"]] == [statement.pk]
    assert b"2026-10" in page.content and b"300.00 EUR" in page.content
    pdf = portal.get(f"/portal/statements/{statement.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf["Content-Disposition"]


def test_a_draft_statement_is_not_shown_and_its_pdf_is_not_found(portal, world):
    draft = statement_for(world.affiliate, world.brand, "300.00", approve=False)
    assert list(portal.get("/portal/statements/").context["statements"]) == []
    assert portal.get(f"/portal/statements/{draft.pk}/pdf/").status_code == 404


def test_another_partners_statement_is_not_found(portal, world, other):
    theirs = statement_for(other.affiliate, other.brand, "400.00")
    assert portal.get(f"/portal/statements/{theirs.pk}/pdf/").status_code == 404
    assert b"400.00" not in portal.get("/portal/statements/").content
    assert portal.get(f"/api/partner/v1/payouts/{theirs.pk}/pdf").status_code in (401, 403, 404)
