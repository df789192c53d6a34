"""An operator's system that sends every event twice, in no particular order, from several connections at once
(status updates before the deposit they change, duplicates in the same batch and across postbacks): one
canonical event per event id, and the final status is the latest status update's, whatever the arrival order."""

import random
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from affiliates.tests.factories import BrandFactory
from core.keys import api_key_create
from integrations.models import InboundEvent, InboundStatus
from integrations.tests.factories import SourceFactory
from reliability.processes import call, wait_until
from tracking.models import ConversionEvent

pytestmark = [pytest.mark.postgres, pytest.mark.broker, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 40


def _events(n: int) -> list[dict]:
    customer = f"player-{n}"
    base = {"customer_id": customer, "currency": "EUR"}
    return [
        {**base, "event_id": f"reg-{n}", "type": "registration", "occurred_at": "2026-11-20T09:00:00+00:00"},
        {**base, "event_id": f"ftd-{n}", "type": "ftd", "amount": "100.00", "status": "pending",
         "occurred_at": "2026-11-20T10:00:00+00:00"},
        {**base, "event_id": f"ok-{n}", "type": "status_update", "ref_event_id": f"ftd-{n}", "status": "qualified",
         "occurred_at": "2026-11-20T11:00:00+00:00"},
        # the operator's last word on the deposit: whatever order the updates arrive in, this one stands
        {**base, "event_id": f"final-{n}", "type": "status_update", "ref_event_id": f"ftd-{n}",
         "status": "rejected" if n % 2 else "qualified", "occurred_at": "2026-11-20T12:00:00+00:00"},
        {**base, "event_id": f"dep-{n}", "type": "deposit", "amount": "40.00",
         "occurred_at": "2026-11-21T10:00:00+00:00"},
    ]  # fmt: skip


def test_duplicated_and_reordered_deliveries_make_one_event_each_and_the_latest_status_wins(
    deployment, database_url, private_redis
):
    source = SourceFactory(brand=BrandFactory(), rate_limit_per_minute=1_000_000)
    _, key = api_key_create(name="crm", scope="source", source=source)
    deployment.configure(database_url=database_url, redis_url=private_redis.url)
    web = deployment.gunicorn()
    deployment.worker()

    events = [event for n in range(CUSTOMERS) for event in _events(n)]
    rng = random.Random(14)
    # given every event twice as a postback, in a shuffled order, from eight connections at once
    postbacks = events * 2
    rng.shuffle(postbacks)
    # and once more in batches that repeat events inside themselves
    batches = [rng.sample(events, 60) + rng.sample(events, 20) for _ in range(3)]

    def postback(event: dict) -> int:
        query = urlencode({"key": key, **event})
        return call("GET", f"{web.url}/postback/{source.slug}/?{query}")[0]

    def batch(items: list[dict]) -> set[str]:
        status, _, body = call("POST", f"{web.url}/api/v1/events", key=key, body={"events": items}, timeout=60)
        assert status == 202, body
        return {r["status"] for r in body["results"]}

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(postback, postbacks))
        outcomes = set().union(*pool.map(batch, batches))
    assert set(answers) <= {200, 202}
    # Two copies of one event that arrive within the same milliseconds may both be answered 202 (the duplicate
    # check and the insert are one statement, not a lock): the second is recorded as a duplicate when processed.
    print(f"postbacks: {len(postbacks)}, 202: {answers.count(202)}, 200: {answers.count(200)}")
    assert outcomes <= {"accepted", "duplicate"}

    stored = InboundEvent.objects.filter(source=source)
    assert wait_until(lambda: not stored.filter(status=InboundStatus.RECEIVED).exists(), 60), deployment.logs()
    # then one canonical event per event id
    recorded = ConversionEvent.objects.filter(source=source)
    assert sorted(recorded.values_list("external_id", flat=True)) == sorted(e["event_id"] for e in events)
    assert stored.filter(status=InboundStatus.PROCESSED).count() == len(events)
    assert set(stored.values_list("status", flat=True)) == {InboundStatus.PROCESSED, InboundStatus.DUPLICATE}
    # and every status update found its deposit, the latest one deciding its status
    updates = recorded.filter(type="status_update")
    assert not updates.filter(ref_event__isnull=True).exists()
    for n in range(CUSTOMERS):
        ftd = recorded.get(external_id=f"ftd-{n}")
        assert ftd.status == ("rejected" if n % 2 else "qualified"), (n, ftd.status)
