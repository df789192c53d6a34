"""Idempotency under concurrent workers, on PostgreSQL (SQLite serializes writers by itself)."""

import threading

import pytest
from django.db import connection
from django.db.models import Count

from affiliates.choices import DealKind
from affiliates.tests.factories import AffiliateFactory
from commissions.choices import EntryKind
from commissions.models import CommissionEntry
from commissions.services import commission_process_event
from tracking.choices import EventType as T

from .factories import World

WORKERS = 6


def run_concurrently(work) -> list[BaseException]:
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            work()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_book_each_slot_once_and_reverse_once():
    # given a CPA deal paying the parent an override, and five players' FTDs not yet processed
    world = World({"kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "200.00", "subaffiliate_percent": "5",
                   "name": "CPA"}, default=True)  # fmt: skip
    child = AffiliateFactory(parent=world.affiliate)
    ftds = [world.event(world.customer(affiliate=child), T.FTD, "50.00", on="2026-11-02", run=False) for _ in range(5)]
    # when six workers process every event at the same moment
    errors = run_concurrently(lambda: [commission_process_event(event_id=e.pk) for e in ftds])
    assert errors == []
    # then each CPA and each override is booked once: 5 x 200.00 for the child, 5 x 10.00 for the parent
    assert CommissionEntry.objects.filter(kind=EntryKind.CPA).count() == 5
    assert CommissionEntry.objects.filter(kind=EntryKind.SUBAFFILIATE).count() == 5
    # when a chargeback of the first FTD is processed by all of them at once
    chargeback = world.event(ftds[0].customer, T.CHARGEBACK, "50.00", on="2026-11-03", ref=ftds[0], run=False)
    errors = run_concurrently(lambda: commission_process_event(event_id=chargeback.pk))
    assert errors == []
    # then the CPA and its override are reversed once each
    assert CommissionEntry.objects.filter(kind=EntryKind.REVERSAL).count() == 2
    dupes = CommissionEntry.objects.values("slot", "seq").annotate(n=Count("pk")).filter(n__gt=1)
    assert not dupes.exists()
