"""`POST /api/v1/events` (source key): one event or a batch, each stored and answered on its own.
`GET /api/v1/events` (management key): canonical events with base amounts and FX rates."""

import json

import pytest

from integrations.models import InboundEvent, InboundStatus
from tracking.models import ConversionEvent

pytestmark = pytest.mark.django_db


def event(n: int, **extra) -> dict:
    return {
        "type": "deposit", "event_id": f"E{n}", "customer_id": f"C{n % 7}", "amount": "10.00", "currency": "EUR",
        "occurred_at": "2026-11-01T10:00:00Z", **extra,
    }  # fmt: skip


def post(client, body, content_type="application/json"):
    text = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/api/v1/events", text, content_type=content_type)


def test_one_event_is_accepted_with_a_result(source_client):
    source, client = source_client()
    response = post(client, event(1))
    assert response.status_code == 202
    [result] = response.json()["results"]
    assert (result["index"], result["status"], result["errors"]) == (0, "accepted", [])
    assert ConversionEvent.objects.get(source=source).inbound_id == int(result["id"])


def test_a_batch_answers_per_event_and_one_bad_event_never_rejects_its_neighbours(source_client):
    source, client = source_client()
    batch = [event(1), event(2, amount="abc"), event(3), event(1), event(4, type="jackpot")]
    response = post(client, {"events": batch})
    assert response.status_code == 202
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted", "duplicate", "rejected"]
    assert results[3]["id"] == results[0]["id"]  # a duplicate inside the batch answers its original
    assert results[1]["code"] == "invalid_amount"
    assert results[1]["errors"] == [{"field": "amount", "message": "'abc' is not a number", "code": "invalid_amount"}]
    assert results[4]["code"] == "unknown_event_type"
    assert set(ConversionEvent.objects.filter(source=source).values_list("external_id", flat=True)) == {"E1", "E3"}
    stored = InboundEvent.objects.filter(source=source)
    assert stored.count() == 5
    assert stored.filter(status=InboundStatus.REJECTED).count() == 2
    assert len({r.batch_id for r in stored}) == 1


def test_a_batch_resent_is_all_duplicates_and_counts_once(source_client):
    source, client = source_client()
    batch = {"events": [event(n) for n in range(20)]}
    first = post(client, batch).json()["results"]
    again = post(client, batch).json()["results"]
    assert [r["status"] for r in again] == ["duplicate"] * 20
    assert [r["id"] for r in again] == [r["id"] for r in first]
    assert ConversionEvent.objects.filter(source=source).count() == 20


def test_more_than_1000_events_is_413_and_stored(source_client):
    source, client = source_client()
    response = post(client, {"events": [event(n) for n in range(1001)]})
    assert (response.status_code, response.json()["code"]) == (413, "batch_too_large")
    assert InboundEvent.objects.get(source=source).reason_code == "batch_too_large"
    assert not ConversionEvent.objects.exists()


def test_a_body_over_5_mib_is_413(source_client):
    source, client = source_client()
    response = post(client, '{"events": [' + " " * (5 * 1024 * 1024) + "]}")
    assert (response.status_code, response.json()["code"]) == (413, "body_too_large")
    assert InboundEvent.objects.get(source=source).reason_code == "body_too_large"


def test_exactly_1000_events_are_accepted(source_client):
    source, client = source_client()
    response = post(client, {"events": [event(n) for n in range(1000)]})
    assert response.status_code == 202
    assert ConversionEvent.objects.filter(source=source).count() == 1000


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        ("{bad", "application/json", "invalid_json"),
        ('{"type": "deposit", "amount": Infinity}', "application/json", "invalid_json"),
        ("type=deposit", "application/x-www-form-urlencoded", "unsupported_content_type"),
        ('"just a string"', "application/json", "invalid_payload"),
        ('{"events": []}', "application/json", "invalid_payload"),
        ('{"events": "E1"}', "application/json", "invalid_payload"),
    ],
)
def test_malformed_requests_are_400_problems_and_stored(source_client, body, content_type, code):
    source, client = source_client()
    response = post(client, body, content_type)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert InboundEvent.objects.get(source=source).reason_code == code


def test_a_non_object_element_is_rejected_alone(source_client):
    _source, client = source_client()
    results = post(client, {"events": [event(1), "nope"]}).json()["results"]
    assert [(r["status"], r.get("code")) for r in results] == [("accepted", None), ("rejected", "invalid_payload")]


def test_keys_other_than_a_source_key_cannot_send_and_none_is_401(source_client, mgmt, api):
    from rest_framework.test import APIClient

    assert post(mgmt, event(1)).status_code == 403
    assert post(APIClient(), event(1)).status_code == 401


def test_rate_limit_counts_events_of_a_batch(source_client):
    _source, client = source_client(rate_limit_per_minute=5)
    response = post(client, {"events": [event(n) for n in range(6)]})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


def test_management_lists_events_by_customer_type_and_source(source_client, mgmt):
    source, client = source_client()
    post(client, {"events": [event(1), event(2), event(8, type="withdrawal"), {**event(3), "customer_id": "ZZ"}]})
    by_customer = mgmt.get("/api/v1/events", {"customer": "C1"}).json()["results"]
    assert {e["event_id"] for e in by_customer} == {"E1", "E8"}
    by_type = mgmt.get("/api/v1/events", {"type": "withdrawal", "source": source.slug}).json()["results"]
    assert [e["event_id"] for e in by_type] == ["E8"]
    assert mgmt.get("/api/v1/events", {"source": "other"}).json()["results"] == []
    one = mgmt.get(f"/api/v1/events/{by_type[0]['id']}").json()
    assert one["amount"] == "10.00000000" or one["amount"].startswith("10.00")
    assert (one["currency"], one["base_currency"], one["fx_rate"]) == ("EUR", "EUR", "1.0000000000")
    assert one["amount_base"].startswith("10.00")
    assert one["customer_id"] == "C1" and one["source"] == source.slug


def test_a_source_key_cannot_read_the_management_list(source_client):
    _source, client = source_client()
    assert client.get("/api/v1/events").status_code == 403
