"""Hostile requests on /api/ and /postback/: oversized, deeply nested, invalid UTF-8 and malformed bodies are
refused early with a problem+json answer, and a refused request that carried valid credentials is still
stored (as a rejected inbound event, DESIGN §5.1)."""

import pytest
from django.core.cache import cache
from django.test import Client

from affiliates.tests.factories import BrandFactory
from integrations import services
from integrations.ingestion import source_runtime_forget
from integrations.models import InboundEvent, InboundStatus

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def _fresh_caches():
    source_runtime_forget()
    cache.clear()
    yield
    source_runtime_forget()


@pytest.fixture
def source():
    source, raw = services.source_create(slug="crm", name="CRM", brand=BrandFactory(), preset="", mapping=None)
    return source, raw


def nested(depth: int) -> bytes:
    return b'{"type": "registration", "data": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"


def _problem(answer, status: int, code: str | None = None) -> dict:
    assert answer.status_code == status, answer.content[:300]
    assert answer["Content-Type"] == PROBLEM
    body = answer.json()
    if code:
        assert body["code"] == code
    return body


def _post_event(source, raw, body: bytes, content_type="application/json", **extra):
    return Client().post("/api/v1/events", body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {raw}", **extra)


def _postback(source, raw, body: bytes, content_type="application/json", query=""):
    return Client().post(f"/postback/{source.slug}/?key={raw}{query}", body, content_type=content_type)


CASES = {
    "deeply nested": (nested(5000), "application/json"),
    "nested past the depth limit": (nested(100), "application/json"),
    "invalid utf-8": (b'{"type": "registration", "customer_id": "\xff\xfe"}', "application/json"),
    "truncated json": (b'{"type": "registr', "application/json"),
    "NaN": (b'{"type": "deposit", "amount": NaN}', "application/json"),
    "not an object": (b"[1, 2, 3]", "application/json"),
    "xml": (b"<event/>", "application/xml"),
    "a number past any precision": (b'{"type": 1e999999, "customer_id": "c"}', "application/json"),
    "a NUL escape": (b'{"type": "registration", "customer_id": "c\\u0000"}', "application/json"),
    "an unpaired surrogate": (b'{"type": "registration", "\\udad5": "c"}', "application/json"),
    "a NUL in the form": (b"type=registration&customer_id=c%00", "application/x-www-form-urlencoded"),
}


@pytest.mark.parametrize(
    "case", sorted(set(CASES) - {"not an object", "a number past any precision", "a NUL in the form"})
)
def test_the_events_api_refuses_hostile_bodies_with_a_problem_and_stores_them(source, case):
    src, raw = source
    body, content_type = CASES[case]
    answer = _post_event(src, raw, body, content_type)
    assert answer.status_code in (400, 415), answer.content[:300]
    assert answer["Content-Type"] == PROBLEM
    stored = InboundEvent.objects.get(source=src)
    assert stored.status == InboundStatus.REJECTED and stored.reason_code


def test_a_batch_of_non_objects_is_stored_and_answered_one_rejection_per_item(source):
    src, raw = source
    answer = _post_event(src, raw, b"[1, 2, 3]")
    assert answer.status_code == 202
    assert [r["status"] for r in answer.json()["results"]] == ["rejected"] * 3
    assert InboundEvent.objects.filter(source=src, status=InboundStatus.REJECTED).count() == 3


@pytest.mark.parametrize("api", ["/api/v1/events", "/postback/crm/"])
def test_nesting_is_refused_past_64_levels_with_its_own_code(source, api):
    _, raw = source
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    answer = Client().post(api, nested(63), content_type="application/json", **auth)  # 64 levels
    assert answer.json().get("code") != "json_too_deep"
    answer = Client().post(api, nested(64), content_type="application/json", **auth)
    _problem(answer, 400, "json_too_deep")


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_postback_refuses_hostile_bodies_with_a_problem_and_stores_them(source, case):
    src, raw = source
    body, content_type = CASES[case]
    answer = _postback(src, raw, body, content_type)
    assert answer.status_code == 400, answer.content[:300]
    assert answer["Content-Type"] == PROBLEM
    stored = InboundEvent.objects.get(source=src)
    assert stored.status == InboundStatus.REJECTED and stored.reason_code
    assert str(stored.pk) == answer.json()["id"]


def test_a_nul_in_the_query_is_refused_and_stored(source):
    src, raw = source
    answer = Client().get(f"/postback/{src.slug}/?type=registration&customer_id=c%00&key={raw}")
    _problem(answer, 400, "invalid_text")
    assert InboundEvent.objects.get(source=src).reason_code == "invalid_text"


def test_an_oversized_events_body_is_413_and_stored(source):
    src, raw = source
    body = (
        b'{"events": [' + b",".join([b'{"type": "registration", "customer_id": "' + b"x" * 1000 + b'"}'] * 5300) + b"]}"
    )
    answer = _post_event(src, raw, body)
    _problem(answer, 413, "body_too_large")
    assert InboundEvent.objects.get(source=src).reason_code == "body_too_large"


def test_an_oversized_postback_body_is_413_and_stored(source):
    src, raw = source
    answer = _postback(src, raw, b'{"a": "' + b"x" * (1024 * 1024) + b'"}')
    _problem(answer, 413, "body_too_large")
    assert InboundEvent.objects.get(source=src).reason_code == "body_too_large"


def test_a_postback_with_too_many_parameters_is_refused_and_stored(source, settings):
    src, raw = source
    query = "&".join(f"p{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5))
    answer = Client().get(f"/postback/{src.slug}/?{query}&key={raw}")
    _problem(answer, 400, "too_many_fields")
    stored = InboundEvent.objects.get(source=src)
    assert stored.reason_code == "too_many_fields" and "key=" not in stored.query_string


def test_a_postback_with_too_many_parameters_and_no_valid_key_is_401_and_not_stored(source, settings):
    src, _ = source
    query = "&".join(f"p{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5))
    answer = Client().get(f"/postback/{src.slug}/?{query}&key=src_000000000000_nope")
    _problem(answer, 401)
    assert not InboundEvent.objects.exists()


def test_the_management_api_refuses_an_oversized_body_with_413(api, settings):
    answer = api("management").post(
        "/api/v1/brands", b'{"name": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}',
        content_type="application/json",
    )  # fmt: skip
    _problem(answer, 413, "request_too_large")


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (b'{"name": "\xff"}', "application/json", 400),
        (b'{"name": ' * 2000 + b"1" + b"}" * 2000, "application/json", 400),
        (b'{"name": ', "application/json", 400),
        (b"name=x", "application/x-www-form-urlencoded", 415),
        (b"--x\r\n", "multipart/form-data; boundary=x", 415),
    ],
)
def test_the_management_api_refuses_malformed_bodies_with_a_problem(api, body, content_type, status):
    answer = api("management").post("/api/v1/brands", body, content_type=content_type)
    _problem(answer, status)


def test_a_malformed_request_on_an_api_path_answers_problem_json(api):
    """Django's own 400 (a disallowed host, a suspicious request) on an API path is a problem too."""
    answer = Client().get("/api/v1/brands", HTTP_HOST="evil.example.com")
    _problem(answer, 400, "bad_request")
