from decimal import Decimal

import pytest
import time_machine

from affiliates.choices import DealKind
from commissions import demo
from commissions.models import CommissionEntry
from tracking.choices import EventType as T

from .factories import World, at

pytestmark = pytest.mark.django_db


def test_demo_seed_computes_the_demo_events_and_running_it_again_changes_nothing():
    with time_machine.travel(at("2026-12-02"), tick=False):
        world = World({"kind": DealKind.HYBRID, "currency": "EUR", "cpa_amount": "100.00",
                       "revshare_percent": "30", "name": "Hybrid"})  # fmt: skip
        player = world.customer()
        world.event(player, T.FTD, "20.00", on="2026-11-02", run=False)
        world.event(player, T.REVENUE, "500.00", on="2026-11-12", run=False)
        first = demo.seed({})
        count = CommissionEntry.objects.count()
        demo.seed({})
    # CPA 100.00 + 30% of 500.00 = 150.00
    assert sorted(CommissionEntry.objects.values_list("amount", flat=True)) == [Decimal("100.00"), Decimal("150.00")]
    assert CommissionEntry.objects.count() == count == 2
    assert first[0].startswith("2 commission entries for 1 affiliates")
