"""Whole months per vertical, from events sent to the events API (the real ingestion, mapping, attribution and
commission engine) to paid statements, every amount worked out by hand in the comments."""

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from affiliates.choices import DealKind
from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealAssignmentFactory, DealFactory
from commissions import services as commissions
from commissions.choices import EntryKind, EntryStatus
from commissions.models import CommissionEntry
from commissions.payouts import services
from commissions.payouts.choices import StatementStatus
from integrations import services as integrations
from integrations.models import FxRate

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def moment(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


class Operator:
    """A brand, its source with the default mapping, and a client that posts events with the source key."""

    def __init__(self, terms: dict, *, vertical: str, **affiliate):
        self.brand = BrandFactory(timezone="Europe/Malta", vertical=vertical)
        self.source, raw = integrations.source_create(slug=f"src-{self.brand.slug}", name="CRM", brand=self.brand)
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        self.deal = DealFactory(brand=self.brand, terms={"name": "Deal", **terms})
        self.affiliate = AffiliateFactory(payment_method="bank_transfer", **affiliate)
        DealAssignmentFactory(deal=self.deal, affiliate=self.affiliate)
        self.n = 0

    def send(self, capture, *events: dict) -> list[dict]:
        batch = []
        for event in events:
            self.n += 1
            batch.append({"event_id": f"E{self.n}", "affiliate_id": self.affiliate.pk, **event})
        with capture(execute=True):
            response = self.client.post(
                "/api/v1/events", json.dumps({"events": batch}), content_type="application/json"
            )
        results = response.json()["results"]
        assert [r["status"] for r in results] == ["accepted"] * len(batch), results
        return batch

    def close(self, period: str, on: str) -> None:
        with time_machine.travel(moment(on), tick=False):
            commissions.commission_period_close(brand_id=self.brand.pk, period=period)
            commissions.commission_release_holds()

    def statement(self, period: str, on: str):
        with time_machine.travel(moment(on), tick=False):
            [statement] = services.statement_generate(affiliate=self.affiliate, period=period).statements
        return statement

    def pay(self, statement, reference: str, on: str):
        with time_machine.travel(moment(on), tick=False):
            services.statement_approve(statement=statement)
            return services.statement_mark_paid(statement=statement, reference=reference)


def ev(type: str, customer: str, day: str, amount: str | None = None, currency: str = "EUR", **extra) -> dict:
    body = {"type": type, "customer_id": customer, "occurred_at": f"{day}T12:00:00Z", **extra}
    if amount is not None:
        body.update(amount=amount, currency=currency)
    return body


HYBRID = {
    "kind": DealKind.HYBRID, "currency": "EUR", "hold_days": 0, "cpa_amount": "200.00", "revshare_percent": "25",
    "negative_carryover": True, "qualification": {"min_ftd": "20.00", "window_days": 30},
}  # fmt: skip


def test_casino_cpa_and_revshare_months_with_a_chargeback_after_payment_and_a_negative_carried_two_months(
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    casino = Operator(HYBRID, vertical="casino", payout_threshold=Decimal("100.00"))
    # October: P1 and P2 register and deposit (CPA 200.00 each); P1 loses 600.00, P2 wins 1000.00:
    # revenue -400.00 → RevShare nothing, -400.00 carried by the deal into November.
    with time_machine.travel(moment("2026-10-31"), tick=False):
        sent = casino.send(
            capture,
            ev("registration", "P1", "2026-10-05"), ev("ftd", "P1", "2026-10-05", "50.00"),
            ev("registration", "P2", "2026-10-06"), ev("ftd", "P2", "2026-10-06", "30.00"),
            ev("revenue", "P1", "2026-10-10", "600.00"), ev("revenue", "P2", "2026-10-12", "-1000.00"),
        )  # fmt: skip
    casino.close("2026-10", on="2026-11-01")
    october = casino.statement("2026-10", on="2026-11-01")
    assert (october.entries_total, october.amount) == (Decimal("400.00"), Decimal("400.00"))
    casino.pay(october, "SEPA-OCT", on="2026-11-03")
    assert set(CommissionEntry.objects.values_list("status", flat=True)) == {EntryStatus.PAID}
    # November: P1's revenue 800.00 → RevShare (800.00 - 400.00) x 25% = 100.00; P2's FTD is charged back after
    # payment → a reversal of -200.00. Total 100.00 - 200.00 = -100.00: negative, carried (the deal says so).
    with time_machine.travel(moment("2026-11-30"), tick=False):
        casino.send(
            capture,
            ev("revenue", "P1", "2026-11-15", "800.00"),
            ev("chargeback", "P2", "2026-11-18", "30.00", ref_event_id=sent[3]["event_id"]),
        )  # fmt: skip
    casino.close("2026-11", on="2026-12-01")
    november = casino.statement("2026-11", on="2026-12-01")
    assert sorted(november.lines.values_list("kind", "amount")) == [
        (EntryKind.REVERSAL, Decimal("-200.000")), (EntryKind.REVSHARE, Decimal("100.000")),
    ]  # fmt: skip
    assert (november.total, november.amount, november.carry_out) == (Decimal("-100.00"), 0, Decimal("-100.00"))
    assert november.negative_carryover
    with time_machine.travel(moment("2026-12-01"), tick=False):
        services.statement_approve(statement=november)
    # December: P1's revenue 1600.00 → 400.00; with -100.00 carried in: 300.00 paid.
    with time_machine.travel(moment("2026-12-31"), tick=False):
        casino.send(capture, ev("revenue", "P1", "2026-12-20", "1600.00"))
    casino.close("2026-12", on="2027-01-01")
    december = casino.statement("2026-12", on="2027-01-01")
    assert (december.carried_from, december.carried_in) == (november, Decimal("-100.00"))
    assert (december.entries_total, december.total, december.amount) == (Decimal("400.00"), Decimal("300.00"),
                                                                         Decimal("300.00"))  # fmt: skip
    casino.pay(december, "SEPA-DEC", on="2027-01-04")
    november.refresh_from_db()
    assert (november.status, november.payment_reference) == (StatementStatus.PAID, f"carried into #{december.pk}: "
                                                                                   "SEPA-DEC")  # fmt: skip
    # Every entry is paid once: 400.00 + 100.00 - 200.00 + 400.00 = 700.00 = 400.00 + 300.00 transferred.
    assert set(CommissionEntry.objects.values_list("status", flat=True)) == {EntryStatus.PAID}
    assert sum(CommissionEntry.objects.values_list("amount", flat=True)) == Decimal("700.00")


REBATE = {"kind": DealKind.REBATE, "currency": "USD", "hold_days": 0, "rebate_per_lot": "5.00", "lot_step": "0.01"}


def test_forex_rebates_under_the_threshold_carry_into_the_next_month_converted_at_each_period_end_rate(
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    FxRate.objects.bulk_create(
        [FxRate(currency="USD", date=dt.date(2026, 10, 1) + dt.timedelta(days=i), rate=Decimal("0.9"))
         for i in range(31)]
        + [FxRate(currency="USD", date=dt.date(2026, 11, 1) + dt.timedelta(days=i), rate=Decimal("0.92"))
           for i in range(30)]
    )  # fmt: skip
    broker = Operator(REBATE, vertical="forex", payout_currency="EUR", payout_threshold=Decimal("100.00"))
    # October: 10.00 lots x 5.00 USD = 50.00 USD; at 0.9 EUR per USD (rate of 10-31): 45.00 EUR < 100.00.
    with time_machine.travel(moment("2026-10-31"), tick=False):
        broker.send(
            capture, ev("registration", "T1", "2026-10-02"),
            ev("trade", "T1", "2026-10-05", "0.00", "USD", data={"lots": "4.00", "instrument": "EURUSD"}),
            ev("trade", "T1", "2026-10-20", "0.00", "USD", data={"lots": "6.00", "instrument": "GBPUSD"}),
        )  # fmt: skip
    october = broker.statement("2026-10", on="2026-11-01")
    assert october.fx_rates == [{"currency": "USD", "amount": "50.000", "rate": "0.9000000000",
                                 "rate_date": "2026-10-31", "converted": "45.00"}]  # fmt: skip
    assert (october.total, october.amount, october.carry_out) == (Decimal("45.00"), 0, Decimal("45.00"))
    with time_machine.travel(moment("2026-11-01"), tick=False):
        services.statement_approve(statement=october)
    # November: 20.50 lots → 102.50 USD x 0.92 = 94.30 EUR; + 45.00 carried = 139.30 EUR paid.
    with time_machine.travel(moment("2026-11-30"), tick=False):
        broker.send(
            capture, ev("trade", "T1", "2026-11-12", "0.00", "USD", data={"lots": "20.50", "instrument": "EURUSD"})
        )
    november = broker.statement("2026-11", on="2026-12-01")
    assert (november.entries_total, november.carried_in, november.total, november.amount) == (
        Decimal("94.30"), Decimal("45.00"), Decimal("139.30"), Decimal("139.30"),
    )  # fmt: skip
    broker.pay(november, "WIRE-7781", on="2026-12-02")
    october.refresh_from_db()
    assert october.status == StatementStatus.PAID
    assert set(CommissionEntry.objects.values_list("status", flat=True)) == {EntryStatus.PAID}


PROP = {"kind": DealKind.PROP, "currency": "USD", "hold_days": 0, "prop_percent": "15", "prop_pass_amount": "50.00"}


def test_prop_challenge_fees_paid_for_a_month_and_a_refund_after_payment_lands_in_the_next(
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    FxRate.objects.bulk_create(
        FxRate(currency="USD", date=dt.date(2026, 10, 1) + dt.timedelta(days=i), rate=Decimal("0.9")) for i in range(70)
    )
    prop = Operator(PROP, vertical="prop", payout_currency="USD", payout_threshold=Decimal("50.00"))
    # October: purchase 199.00 x 15% = 29.85; reset 99.00 x 15% = 14.85; pass 50.00 → 94.70 USD paid.
    with time_machine.travel(moment("2026-10-31"), tick=False):
        sent = prop.send(
            capture, ev("registration", "K1", "2026-10-01"),
            ev("challenge_purchase", "K1", "2026-10-02", "199.00", "USD"),
            ev("reset_fee", "K1", "2026-10-09", "99.00", "USD"), ev("challenge_pass", "K1", "2026-10-20"),
        )  # fmt: skip
    october = prop.statement("2026-10", on="2026-11-01")
    assert (october.currency, october.total, october.amount) == ("USD", Decimal("94.70"), Decimal("94.70"))
    prop.pay(october, "USDT-0xabc", on="2026-11-02")
    # November: the October purchase is refunded (-29.85), a new one bought 299.00 x 15% = 44.85:
    # 44.85 - 29.85 = 15.00 USD, under the 50.00 threshold: carried, nothing paid.
    with time_machine.travel(moment("2026-11-30"), tick=False):
        prop.send(
            capture,
            ev("refund", "K1", "2026-11-03", "199.00", "USD", ref_event_id=sent[1]["event_id"]),
            ev("challenge_purchase", "K1", "2026-11-05", "299.00", "USD"),
        )  # fmt: skip
    november = prop.statement("2026-11", on="2026-12-01")
    assert sorted(november.lines.values_list("amount", flat=True)) == [Decimal("-29.850"), Decimal("44.850")]
    assert (november.total, november.amount, november.carry_out) == (Decimal("15.00"), 0, Decimal("15.00"))
    paid = CommissionEntry.objects.filter(status=EntryStatus.PAID)
    assert sorted(paid.values_list("amount", flat=True)) == [Decimal("14.85"), Decimal("29.85"), Decimal("50.00")]
