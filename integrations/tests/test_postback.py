"""`GET`/`POST /postback/<source>/`: the CONTRACT answers, and every authenticated request stored first."""

from unittest import mock

import pytest
from django.test import Client

from core.keys import api_key_create
from integrations.models import InboundEvent, InboundStatus
from tracking.models import ConversionEvent

pytestmark = pytest.mark.django_db

REG = "action=reg&player=P-1&btag=CLICK-1&ts=2026-11-01T10:00:00Z&geo=DE"
DEP = "action=dep&player=P-1&dep_id=D-1&amt=2500&cur=EUR&ts=2026-11-03T09:00:00Z&state=approved"


@pytest.fixture
def casino(make_source):
    source, raw = make_source(preset="casino_postbacks")
    return source, raw, Client()


def test_accepted_postback_answers_202_and_becomes_an_event(casino):
    source, key, client = casino
    response = client.get(f"/postback/{source.slug}/?{DEP}&key={key}")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    inbound = InboundEvent.objects.get(pk=int(body["id"]))
    assert inbound.status == InboundStatus.PROCESSED
    assert "key=" not in inbound.query_string  # the credential is never stored
    event = ConversionEvent.objects.get(inbound=inbound)
    assert (event.type, event.amount, event.currency, event.status) == ("deposit", 25, "EUR", "qualified")


def test_bearer_header_works_as_well_as_the_key_parameter(casino):
    source, key, client = casino
    response = client.get(f"/postback/{source.slug}/?{DEP}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 202


def test_a_repeat_answers_200_duplicate_with_the_original_id_and_changes_nothing(casino):
    source, key, client = casino
    first = client.get(f"/postback/{source.slug}/?{DEP}&key={key}").json()
    second = client.get(f"/postback/{source.slug}/?{DEP}&key={key}")
    assert second.status_code == 200
    assert second.json() == {"id": first["id"], "status": "duplicate"}
    assert ConversionEvent.objects.filter(source=source).count() == 1
    stored = InboundEvent.objects.filter(source=source).order_by("pk")
    assert [r.status for r in stored] == ["processed", "duplicate"]
    assert stored[1].duplicate_of_id == int(first["id"])


def test_a_repeat_is_stored_as_a_finished_duplicate_naming_its_original(casino):
    # Given a deposit postback that was accepted
    source, key, client = casino
    first = client.get(f"/postback/{source.slug}/?{DEP}&key={key}").json()
    # When the same event id and a new one arrive
    again = client.get(f"/postback/{source.slug}/?{DEP}&key={key}&x=1").json()
    other = client.get(f"/postback/{source.slug}/?{DEP.replace('D-1', 'D-2')}&key={key}").json()
    # Then the repeat is stored as a duplicate of the first, already finished, and the new one is accepted
    row = InboundEvent.objects.get(pk=int(first["id"]) + 1)
    assert again == {"id": first["id"], "status": "duplicate"}
    assert (row.status, row.reason_code, row.duplicate_of_id, row.attempts) == (
        "duplicate",
        "duplicate",
        int(first["id"]),
        1,
    )
    assert row.reason_detail == f"event_id: 'D-1' was received as #{first['id']}"
    assert row.processed_at == row.received_at
    assert row.query_string.endswith("&x=1") and row.payload["x"] == "1" and row.canonical["event_id"] == "D-1"
    assert other["status"] == "accepted" and int(other["id"]) > row.pk


def test_a_postback_without_event_id_deduplicates_by_its_id_fields(casino):
    source, key, client = casino
    client.get(f"/postback/{source.slug}/?{REG}&key={key}")
    again = client.get(f"/postback/{source.slug}/?{REG}&key={key}")
    assert again.json()["status"] == "duplicate"
    assert ConversionEvent.objects.filter(source=source, type="registration").count() == 1


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        ("", "missing_source_key"),
        ("key=src_000000000000_nope", "unknown_source_key"),
        ("key=garbage", "unknown_source_key"),
    ],
)
def test_missing_or_wrong_key_is_401_and_nothing_is_stored(casino, auth, code):
    source, _key, client = casino
    response = client.get(f"/postback/{source.slug}/?{DEP}&{auth}")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert not InboundEvent.objects.exists()


def test_another_sources_key_is_401(casino, make_source):
    source, _key, client = casino
    _other, other_key = make_source(preset="casino_postbacks")
    response = client.get(f"/postback/{source.slug}/?{DEP}&key={other_key}")
    assert (response.status_code, response.json()["code"]) == (401, "wrong_source_key")


def test_a_management_key_is_not_a_source_key(casino):
    source, _key, client = casino
    _, raw = api_key_create(name="m", scope="management")
    response = client.get(f"/postback/{source.slug}/?{DEP}&key={raw}")
    assert (response.status_code, response.json()["code"]) == (401, "wrong_source_key")


def test_unknown_or_inactive_source_is_404(casino):
    source, key, client = casino
    assert client.get(f"/postback/nope/?{DEP}&key={key}").status_code == 404
    source.is_active = False
    source.save()
    from integrations.ingestion import source_runtime_forget

    source_runtime_forget()
    response = client.get(f"/postback/{source.slug}/?{DEP}&key={key}")
    assert (response.status_code, response.json()["code"]) == (404, "unknown_source")


@pytest.mark.parametrize(
    ("query", "code", "detail"),
    [
        ("action=jackpot&player=P&dep_id=X&amt=1&cur=EUR", "unknown_event_type", "type: unknown event type 'jackpot'"),
        ("action=dep&player=P&dep_id=X&amt=abc&cur=EUR", "invalid_amount", "amount: 'abc' is not a number"),
        ("action=dep&player=P&dep_id=X&amt=100&cur=XXQ", "unknown_currency", "currency: unknown currency 'XXQ'"),
        ("action=dep&player=P&dep_id=X&amt=100&cur=EUR&ts=2040-01-01T00:00:00Z", "invalid_date",
         "occurred_at: '2040-01-01T00:00:00Z' is in the future"),
        ("action=dep&dep_id=X&amt=100&cur=EUR", "missing_field", "customer_id: is required for deposit"),
    ],
)  # fmt: skip
def test_unmappable_postback_is_400_with_a_reason_code_and_stored_rejected(casino, query, code, detail):
    source, key, client = casino
    response = client.get(f"/postback/{source.slug}/?{query}&key={key}")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["detail"]) == (code, detail)
    assert body["errors"][0]["code"] == code
    inbound = InboundEvent.objects.get(pk=int(body["id"]))
    assert (inbound.status, inbound.reason_code, inbound.reason_detail) == ("rejected", code, detail)
    assert not ConversionEvent.objects.exists()


def test_post_form_and_json_bodies_are_accepted(make_source):
    source, key = make_source()
    client = Client()
    form = client.post(
        f"/postback/{source.slug}/?key={key}",
        "type=registration&customer_id=C1&occurred_at=2026-11-01T10:00:00Z",
        content_type="application/x-www-form-urlencoded",
    )
    assert form.status_code == 202
    json_body = client.post(
        f"/postback/{source.slug}/?key={key}",
        '{"type": "deposit", "event_id": "E1", "customer_id": "C1", "amount": 10.50, "currency": "EUR"}',
        content_type="application/json",
    )
    assert json_body.status_code == 202
    assert ConversionEvent.objects.get(source=source, external_id="E1").amount == 10.5


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        ("{not json", "application/json", "invalid_json"),
        ('{"amount": NaN}', "application/json", "invalid_json"),
        ("[1, 2]", "application/json", "invalid_payload"),
        ("<xml/>", "application/xml", "unsupported_content_type"),
    ],
)
def test_malformed_post_bodies_are_400_and_stored(make_source, body, content_type, code):
    source, key = make_source()
    response = Client().post(f"/postback/{source.slug}/?key={key}", body, content_type=content_type)
    assert (response.status_code, response.json()["code"]) == (400, code)
    inbound = InboundEvent.objects.get(source=source)
    assert (inbound.status, inbound.reason_code, inbound.body) == ("rejected", code, body)


def test_an_oversized_postback_body_is_413_and_stored(make_source):
    source, key = make_source()
    response = Client().post(
        f"/postback/{source.slug}/?key={key}", "x" * (1024 * 1024 + 1), content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (413, "body_too_large")
    assert InboundEvent.objects.get(source=source).reason_code == "body_too_large"


def test_past_the_rate_limit_answers_429_with_retry_after(make_source):
    source, key = make_source(rate_limit_per_minute=2)
    client = Client()
    codes = [
        client.get(f"/postback/{source.slug}/?type=signup&customer_id=C{i}&key={key}").status_code for i in range(3)
    ]
    assert codes == [202, 202, 429]
    response = client.get(f"/postback/{source.slug}/?type=signup&customer_id=C9&key={key}")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61
    assert response.json()["code"] == "rate_limited"
    assert InboundEvent.objects.filter(source=source, reason_code="rate_limited").count() == 2


def test_with_the_broker_down_the_postback_is_still_accepted_and_the_sweep_processes_it(casino):
    source, key, client = casino
    with mock.patch("integrations.tasks.ingest_process.apply_async", side_effect=ConnectionError("broker down")):
        response = client.get(f"/postback/{source.slug}/?{DEP}&key={key}")
    assert response.status_code == 202
    inbound = InboundEvent.objects.get(pk=int(response.json()["id"]))
    assert inbound.status == InboundStatus.RECEIVED
    from datetime import timedelta

    from integrations.ingestion import inbound_sweep

    assert inbound_sweep(grace=timedelta(0)) == 1
    inbound.refresh_from_db()
    assert inbound.status == InboundStatus.PROCESSED
    assert ConversionEvent.objects.filter(source=source).count() == 1


def test_other_methods_are_405(casino):
    source, key, client = casino
    assert client.delete(f"/postback/{source.slug}/?key={key}").status_code == 405


def test_postbacks_are_handed_to_the_queue_in_groups(casino, monkeypatch):
    from config.celery import app
    from integrations import ingestion

    source, key, client = casino
    monkeypatch.setattr(ingestion, "HANDOVER_WINDOW", 3600)  # flushed by hand below
    app.conf.task_always_eager = False
    try:
        with mock.patch("integrations.tasks.ingest_process.apply_async") as apply_async:
            ids = [
                int(client.get(f"/postback/{source.slug}/?action=reg&player=P{n}&key={key}").json()["id"])
                for n in range(3)
            ]
            assert apply_async.call_count == 0
            ingestion._handover.flush()
    finally:
        app.conf.task_always_eager = True
    apply_async.assert_called_once_with(args=[ids], retry=False)
    assert InboundEvent.objects.filter(pk__in=ids, status=InboundStatus.RECEIVED).count() == 3


def test_groups_are_published_after_the_window_by_one_long_lived_thread(casino, monkeypatch):
    import threading

    from config.celery import app
    from core.testing import wait_for
    from integrations import ingestion

    source, key, client = casino

    def send(player: str) -> int:
        return int(client.get(f"/postback/{source.slug}/?action=reg&player={player}&key={key}").json()["id"])

    def publish(args, retry):
        published.append((args[0], threading.current_thread()))

    monkeypatch.setattr(ingestion, "HANDOVER_WINDOW", 0.5)
    published: list[tuple[list[int], threading.Thread]] = []
    groups = []
    app.conf.task_always_eager = False
    try:
        with mock.patch("integrations.tasks.ingest_process.apply_async", side_effect=publish):
            for group in range(2):
                groups.append([send(f"G{group}P1"), send(f"G{group}P2")])
                assert wait_for(lambda n=group + 1: len(published) == n, seconds=5)
    finally:
        app.conf.task_always_eager = True
    assert [ids for ids, _thread in published] == groups
    [thread] = {thread for _ids, thread in published}
    assert thread is not threading.current_thread() and thread.is_alive()
