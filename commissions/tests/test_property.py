"""Rebuilding the ledger from the events gives the ledger that event-by-event processing built."""

from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affiliates.choices import DealKind
from affiliates.tests.factories import AffiliateFactory
from commissions import services
from commissions.choices import COUNTED_STATUSES
from commissions.models import CommissionEntry
from commissions.selectors import affiliate_balance
from commissions.tasks import process_event
from tracking.choices import EventType as T

from .factories import World, at

DEALS = {
    # CPA with a baseline over deposits and wagering (no tiers or caps: those rank CPAs first come,
    # first served, and a later reversal does not re-rank what was booked; recalculation does).
    "cpa": {"kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "125.50", "subaffiliate_percent": "7.5",
            "qualification": {"min_ftd": "20", "min_deposits": "60", "min_wagering": "50", "window_days": 10}},
    "cpl": {"kind": DealKind.CPL, "currency": "EUR", "cpl_amount": "3.33", "subaffiliate_percent": "10"},
    "rebate": {"kind": DealKind.REBATE, "currency": "EUR", "rebate_per_lot": "4.10", "lot_step": "0.1",
               "rebate_groups": [{"name": "Majors", "instruments": ["EURUSD"], "per_lot": "6.25", "lot_factor": "1"}],
               "subaffiliate_percent": "5"},
    "prop": {"kind": DealKind.PROP, "currency": "EUR", "prop_percent": "12.5", "prop_pass_amount": "40",
             "prop_funded_amount": "75", "subaffiliate_percent": "3"},
}  # fmt: skip

TYPES = [T.REGISTRATION, T.FTD, T.DEPOSIT, T.BET, T.TRADE, T.CHALLENGE_PURCHASE, T.RESET_FEE, T.CHALLENGE_PASS,
         T.FUNDED_ACTIVATION]  # fmt: skip

event = st.fixed_dictionaries(
    {
        "customer": st.integers(0, 3),
        "type": st.sampled_from(TYPES),
        "day": st.integers(1, 20),
        "amount": st.decimals("0.01", "250.00", places=2),
        "lots": st.decimals("0.01", "3.00", places=2),
        "instrument": st.sampled_from(["EURUSD", "XAUUSD"]),
        "pending": st.booleans(),
        "later": st.sampled_from([None, "qualify", "reject", "refund", "chargeback"]),
        "repeats": st.integers(1, 3),
    }
)


@pytest.mark.django_db
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(DEALS)), events=st.lists(event, min_size=1, max_size=14), child=st.booleans())
def test_rebuilding_from_events_gives_the_same_ledger(kind, events, child):
    with transaction.atomic(), time_machine.travel(at("2026-11-28"), tick=False):
        world = World({**DEALS[kind], "name": f"prop-{kind}"}, default=True)
        owner = AffiliateFactory(parent=world.affiliate) if child else world.affiliate
        customers = [world.customer(affiliate=owner, registered="2026-11-01") for _ in range(4)]
        made = []
        for spec in sorted(events, key=lambda s: s["day"]):
            money = spec["type"] not in (T.REGISTRATION, T.CHALLENGE_PASS, T.FUNDED_ACTIVATION, T.TRADE)
            ev = world.event(
                customers[spec["customer"]], spec["type"], spec["amount"] if money else None,
                on=f"2026-11-{spec['day']:02d}", status="pending" if spec["pending"] else "qualified",
                data={"lots": str(spec["lots"]), "instrument": spec["instrument"]} if spec["type"] == T.TRADE else {},
            )  # fmt: skip
            for _ in range(spec["repeats"] - 1):
                process_event(ev.pk)
            made.append((ev, spec))
        # later: status updates, refunds and chargebacks arrive, in the order of the events they change
        for ev, spec in made:
            if spec["later"] in ("qualify", "reject"):
                type(ev).objects.filter(pk=ev.pk).update(
                    status="qualified" if spec["later"] == "qualify" else "rejected"
                )
                process_event(ev.pk)
            elif spec["later"] in ("refund", "chargeback"):
                world.event(ev.customer, spec["later"], "1.00", on="2026-11-25", ref=ev)

        # the ledger equals what a rebuild from the events says, slot by slot, to the cent
        rebuild = services.commission_recalculate(brand=world.brand)
        assert rebuild.diffs == []
        # and every balance is the sum of its counted entries
        for affiliate in {world.affiliate, owner}:
            counted = CommissionEntry.objects.filter(affiliate=affiliate, status__in=COUNTED_STATUSES)
            expected = counted.aggregate(total=Sum("amount"))["total"]
            assert affiliate_balance(affiliate_id=affiliate.pk).get("EUR") == (
                None if expected is None else expected.quantize(Decimal("0.01"))
            )
            assert all(e.amount == e.amount.quantize(Decimal("0.01")) for e in counted)
        transaction.set_rollback(True)
