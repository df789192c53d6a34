"""The per-source rate limit: a shared counter per minute, reserved by each process in blocks."""

import datetime as dt
from contextlib import contextmanager
from unittest import mock

import pytest
import time_machine
from django.test import Client

from integrations import ingestion
from integrations.ingestion import RATE_BLOCK_MAX, rate_limit_retry_after, source_runtime
from integrations.models import InboundEvent, InboundStatus

pytestmark = pytest.mark.django_db

MINUTE_START = dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=dt.UTC)


@contextmanager
def process(monkeypatch, allotments: dict):
    """Run as another server process: its own reserved tokens, the same shared counter."""
    with monkeypatch.context() as patch:
        patch.setattr(ingestion, "_allotments", allotments)
        yield


@pytest.fixture(autouse=True)
def _five_seconds_into_a_minute():
    """Every test here runs inside one minute (a few travel on), however long it takes."""
    with time_machine.travel(MINUTE_START + dt.timedelta(seconds=5), tick=False):
        yield


@pytest.fixture
def reservations():
    """Counts round trips to the shared counter."""
    with mock.patch.object(ingestion, "_rate_reserve", wraps=ingestion._rate_reserve) as spy:
        yield spy


def runtime_of(make_source, limit: int):
    source, key = make_source(rate_limit_per_minute=limit)
    return source, key, source_runtime(source_id=source.pk)


def test_processes_together_admit_exactly_the_limit_then_answer_retry_after(make_source, monkeypatch):
    # Given a source allowed 1,000 events a minute and three server processes sharing its counter
    _source, _key, runtime = runtime_of(make_source, 1000)
    states = [{}, {}, {}]
    # When they take events in turn until each has been refused
    admitted, refused = 0, []
    for turn in range(2000):
        with process(monkeypatch, states[turn % 3]):
            wait = rate_limit_retry_after(runtime=runtime)
        if wait:
            refused.append(wait)
        else:
            admitted += 1
    # Then no more than the limit were admitted, at most a block per process short of it, and each refusal
    # says to wait until the next minute
    assert 1000 - 3 * RATE_BLOCK_MAX <= admitted <= 1000
    assert set(refused) == {56}


def test_tokens_reserved_and_left_unused_by_a_process_refuse_the_others_a_block_early_at_most(make_source, monkeypatch):
    # Given a source allowed 1,000 a minute, and a process that took one event and then went quiet
    _source, _key, runtime = runtime_of(make_source, 1000)
    with process(monkeypatch, {}):
        assert rate_limit_retry_after(runtime=runtime) == 0
    # When another process takes events until it is refused
    admitted = 0
    while not rate_limit_retry_after(runtime=runtime):
        admitted += 1
    # Then the two admitted less than the limit, by less than one block
    assert 1000 - RATE_BLOCK_MAX < 1 + admitted < 1000


def test_one_process_is_exact_to_the_event_and_counts_what_it_reserved(make_source):
    # Given a source allowed 500 events a minute, in one process
    _source, _key, runtime = runtime_of(make_source, 500)
    # When 501 events come
    answers = [rate_limit_retry_after(runtime=runtime) for _ in range(501)]
    # Then 500 pass, the last is refused, and the counter holds the 500 reserved
    assert answers[:500] == [0] * 500
    assert answers[500] == 56
    assert ingestion.cache.get(f"ingest-rate:{runtime.id}:{int(MINUTE_START.timestamp()) // 60}") == 500


def test_far_from_its_limit_a_source_costs_one_round_trip_per_block(make_source, reservations):
    _source, _key, runtime = runtime_of(make_source, 6000)
    assert not any(rate_limit_retry_after(runtime=runtime) for _ in range(10 * RATE_BLOCK_MAX))
    assert reservations.call_count == 10


def test_past_the_limit_a_process_refuses_without_asking_the_counter_again(make_source, reservations):
    _source, _key, runtime = runtime_of(make_source, 3)
    assert [rate_limit_retry_after(runtime=runtime) for _ in range(3)] == [0, 0, 0]
    asked = reservations.call_count
    assert all(rate_limit_retry_after(runtime=runtime) for _ in range(10))
    assert reservations.call_count == asked


def test_near_the_limit_blocks_shrink_to_single_events(make_source, monkeypatch):
    # Given a source allowed 40 a minute, and another process that took 38 of them
    _source, _key, runtime = runtime_of(make_source, 40)
    with process(monkeypatch, {}):
        for _ in range(38):
            assert rate_limit_retry_after(runtime=runtime) == 0
    # Then this process still gets the last two, not a block nobody could use
    answers = [rate_limit_retry_after(runtime=runtime) for _ in range(3)]
    assert answers[:2] == [0, 0] and answers[2] > 0


def test_a_batch_past_the_limit_is_refused_whole_and_uses_no_tokens(make_source):
    _source, _key, runtime = runtime_of(make_source, 5)
    assert rate_limit_retry_after(runtime=runtime, count=3) == 0
    assert rate_limit_retry_after(runtime=runtime, count=3) > 0
    assert rate_limit_retry_after(runtime=runtime, count=2) == 0
    assert rate_limit_retry_after(runtime=runtime, count=1) > 0


def test_the_next_minute_starts_a_fresh_count(make_source):
    _source, _key, runtime = runtime_of(make_source, 2)
    with time_machine.travel(MINUTE_START + dt.timedelta(seconds=50), tick=False):
        assert [rate_limit_retry_after(runtime=runtime) for _ in range(3)] == [0, 0, 11]
    with time_machine.travel(MINUTE_START + dt.timedelta(seconds=61), tick=False):
        assert [rate_limit_retry_after(runtime=runtime) for _ in range(3)] == [0, 0, 60]


def test_a_raised_limit_applies_at_once(make_source):
    source, _key, runtime = runtime_of(make_source, 2)
    with time_machine.travel(MINUTE_START, tick=False):
        assert [bool(rate_limit_retry_after(runtime=runtime)) for _ in range(3)] == [False, False, True]
        source.rate_limit_per_minute = 4
        source.save(update_fields=["rate_limit_per_minute"])
        ingestion.source_runtime_forget()
        raised = source_runtime(source_id=source.pk)
        assert [bool(rate_limit_retry_after(runtime=raised)) for _ in range(3)] == [False, False, True]


@time_machine.travel(MINUTE_START + dt.timedelta(seconds=30), tick=False)
def test_postbacks_past_the_limit_answer_429_and_are_stored_rejected(make_source, monkeypatch):
    # Given a source allowed 40 postbacks a minute, sent to two server processes in turn
    source, key, _runtime = runtime_of(make_source, 40)
    client, states = Client(), [{}, {}]
    # When 45 arrive
    codes = []
    for n in range(45):
        with process(monkeypatch, states[n % 2]):
            response = client.get(f"/postback/{source.slug}/?type=signup&customer_id=C{n}&event_id=E{n}&key={key}")
        codes.append(response.status_code)
        if response.status_code == 429:
            assert response["Retry-After"] == "31"
            assert response.json()["code"] == "rate_limited"
    # Then at most 40 are accepted, the rest are 429, and every one of them is stored
    accepted = codes.count(202)
    assert 40 - 2 * 2 <= accepted <= 40 and codes.count(429) == 45 - accepted
    assert codes[:accepted] == [202] * accepted
    stored = InboundEvent.objects.filter(source=source)
    assert stored.filter(status=InboundStatus.REJECTED, reason_code="rate_limited").count() == 45 - accepted
    assert stored.exclude(status=InboundStatus.REJECTED).count() == accepted


def test_with_the_shared_counter_unreachable_a_process_still_admits_up_to_the_limit_on_its_own(make_source, caplog):
    # Given a source allowed 100 events a minute, and the cache holding the shared counter down
    _source, _key, runtime = runtime_of(make_source, 100)
    with mock.patch.object(ingestion, "_rate_reserve", side_effect=ConnectionError("Connection refused")):
        # When the process takes 150 events
        waits = [rate_limit_retry_after(runtime=runtime) for _ in range(150)]
    # Then it admits the limit, counted by itself, refuses the rest until the next minute, and logs the outage
    assert waits.count(0) == 100
    assert set(waits[100:]) == {56}
    assert "rate-limit counter unreachable" in caplog.text
