"""Review bookkeeping and the audited hold release under concurrent workers, on PostgreSQL."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from affiliates.choices import DealKind
from commissions.choices import EntryStatus
from commissions.models import AffiliateDayTotal, CommissionEntry
from commissions.review import tally
from commissions.services import commission_process_event, commission_release_holds
from core.audit import audit_history
from integrations.webhooks.models import OutboxEvent
from tracking.choices import EventType as T

from .factories import ReviewPolicyFactory, World, at
from .test_concurrency import WORKERS, run_concurrently

CPA = {"kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "200.00", "hold_days": 30, "name": "CPA"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_add_up_in_the_day_total():
    # given twelve FTDs of one affiliate, not processed yet, and a policy that reads the history
    with time_machine.travel(at("2026-11-05"), tick=False):
        world = World(CPA)
        ReviewPolicyFactory(brand=world.brand, day_rise_factor=Decimal("3"), min_history_entries=1)
        ftds = [world.event(world.customer(), T.FTD, "50.00", on="2026-11-02", run=False) for _ in range(12)]
        chunks = [ftds[n::WORKERS] for n in range(WORKERS)]
        jobs = iter(chunks)

        def work():
            for event in next(jobs):
                commission_process_event(event_id=event.pk)

        # when six workers book them at the same moment
        assert run_concurrently(work) == []
    # then every entry is booked once and the day total holds all twelve, to the cent
    assert CommissionEntry.objects.count() == 12
    day = AffiliateDayTotal.objects.get(affiliate=world.affiliate)
    assert (day.day, day.total, day.entries) == (dt.date(2026, 11, 5), Decimal("2400.000"), 12)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_tallies_of_the_same_rows_never_lose_an_amount():
    world = World(CPA)
    entries = [
        CommissionEntry(affiliate=world.affiliate, brand=world.brand, currency="EUR", amount=Decimal("0.01"),
                        kind="cpa", status=EntryStatus.ON_HOLD)
        for _ in range(50)
    ]  # fmt: skip
    day = dt.date(2026, 11, 5)
    assert run_concurrently(lambda: tally(entries, day_of=lambda brand_id: day)) == []
    row = AffiliateDayTotal.objects.get(affiliate=world.affiliate)
    assert (row.total, row.entries) == (Decimal("3.000"), 300)  # 6 workers x 50 x 0.01


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_hold_releases_approve_and_log_each_entry_once():
    with time_machine.travel(at("2026-11-05"), tick=False):
        world = World(CPA)
        for _ in range(8):
            world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
    pks = list(CommissionEntry.objects.values_list("pk", flat=True))
    with time_machine.travel(at("2026-12-10"), tick=False):
        assert run_concurrently(lambda: commission_release_holds(chunk=3)) == []
    assert set(CommissionEntry.objects.values_list("status", flat=True)) == {EntryStatus.APPROVED}
    assert audit_history(model=CommissionEntry, pks=pks).count() == 8
    assert OutboxEvent.objects.filter(type="commission.approved").count() == 8
