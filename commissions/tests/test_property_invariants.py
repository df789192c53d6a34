"""The commission engine's invariants under arbitrary event streams (hypothesis), for every deal kind:

- every booked amount is quantized to its currency's minor unit;
- a reversal is the exact negative of the entry it reverses, so a reversed slot nets to zero;
- when every event is rejected afterwards, nothing is left: each affiliate's balance is zero;
- and recomputing from the events gives what was booked (also in test_property.py, here after the reversals).
"""

from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affiliates.tests.factories import AffiliateFactory
from commissions import services
from commissions.choices import COUNTED_STATUSES, EntryKind
from commissions.models import CommissionEntry
from commissions.selectors import affiliate_balance
from commissions.tasks import process_event
from core.money import quantize
from tracking.choices import EventType as T

from .factories import World, at
from .test_property import DEALS, TYPES

MONEYLESS = (T.REGISTRATION, T.CHALLENGE_PASS, T.FUNDED_ACTIVATION, T.TRADE)

stream = st.lists(
    st.fixed_dictionaries(
        {
            "customer": st.integers(0, 2),
            "type": st.sampled_from(TYPES),
            "day": st.integers(1, 20),
            "amount": st.decimals("0.01", "999.99", places=2),
            "lots": st.decimals("0.01", "5.00", places=2),
        }
    ),
    min_size=1,
    max_size=10,
)


def _book(world, owner, events):
    customers = [world.customer(affiliate=owner, registered="2026-11-01") for _ in range(3)]
    made = []
    for spec in sorted(events, key=lambda s: s["day"]):
        money = spec["type"] not in MONEYLESS
        data = {"lots": str(spec["lots"]), "instrument": "EURUSD"} if spec["type"] == T.TRADE else {}
        amount = spec["amount"] if money else None
        made.append(
            world.event(customers[spec["customer"]], spec["type"], amount, on=f"2026-11-{spec['day']:02d}", data=data)
        )
    return made


def _assert_reversals_net_to_zero():
    for reversal in CommissionEntry.objects.filter(kind=EntryKind.REVERSAL).select_related("reverses"):
        assert reversal.amount == -reversal.reverses.amount, reversal.explanation
        assert reversal.currency == reversal.reverses.currency
        assert reversal.affiliate_id == reversal.reverses.affiliate_id


def _assert_quantized():
    for entry in CommissionEntry.objects.all():
        assert entry.amount == quantize(entry.amount, entry.currency), (entry.kind, entry.amount)


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(DEALS)), events=stream, child=st.booleans(), undo=st.sampled_from(["reject", "x"]))
def test_rejecting_every_event_reverses_every_entry_to_a_zero_balance(kind, events, child, undo):
    with transaction.atomic(), time_machine.travel(at("2026-11-28"), tick=False):
        world = World({**DEALS[kind], "name": f"inv-{kind}"}, default=True)
        owner = AffiliateFactory(parent=world.affiliate) if child else world.affiliate
        made = _book(world, owner, events)
        _assert_quantized()

        if undo == "reject":
            for event in made:
                type(event).objects.filter(pk=event.pk).update(status="rejected")
                process_event(event.pk)
            _assert_reversals_net_to_zero()
            _assert_quantized()
            for affiliate in {world.affiliate, owner}:
                assert affiliate_balance(affiliate_id=affiliate.pk).get("EUR", Decimal("0")) == 0
                counted = CommissionEntry.objects.filter(affiliate=affiliate, status__in=COUNTED_STATUSES)
                # summed here, exactly: SQLite sums decimal columns in floating point
                assert sum((e.amount for e in counted), Decimal("0")) == 0

        assert services.commission_recalculate(brand=world.brand).diffs == []
        transaction.set_rollback(True)
