"""`Idempotency-Key` on management POSTs: replay, conflict, in flight, TTL, 5xx, per API key."""

import datetime as dt
from unittest import mock

import pytest
import time_machine

from affiliates.choices import AffiliateStatus
from affiliates.models import Affiliate, AffiliateStatusChange, Brand, DealAssignment
from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealFactory
from core.idempotency import idempotency_purge
from core.models import IdempotencyRecord

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
BRAND = {"slug": "lucky-casino", "name": "Lucky Casino", "currency": "EUR", "timezone": "Europe/Malta"}


def post(client, url, data, key):
    return client.post(url, data, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_replay_returns_the_first_answer_and_creates_nothing_more(mgmt):
    first = post(mgmt, "/api/v1/brands", BRAND, "k-1")
    again = post(mgmt, "/api/v1/brands", dict(reversed(list(BRAND.items()))), "k-1")  # same JSON, other key order

    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Brand.objects.count() == 1


def test_replay_of_an_error_answer_is_the_same_problem(mgmt):
    bad = {**BRAND, "currency": "XXX"}
    first = post(mgmt, "/api/v1/brands", bad, "k-err")
    again = post(mgmt, "/api/v1/brands", bad, "k-err")

    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()
    assert again["Content-Type"] == "application/problem+json"
    assert again["Idempotent-Replayed"] == "true"


def test_same_key_with_another_body_is_a_422_problem(mgmt):
    post(mgmt, "/api/v1/brands", BRAND, "k-2")

    response = post(mgmt, "/api/v1/brands", {**BRAND, "slug": "other"}, "k-2")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_reused"
    assert Brand.objects.count() == 1


def test_same_key_on_another_endpoint_is_a_422_problem(mgmt):
    post(mgmt, "/api/v1/brands", BRAND, "k-3")

    response = post(mgmt, "/api/v1/affiliates", {"name": "A", "email": "a@example.com"}, "k-3")

    assert response.status_code == 422
    assert not Affiliate.objects.exists()


@pytest.mark.parametrize("key, status", [("x" * 255, 201), ("x" * 256, 400), ("", 400)])
def test_key_length_is_one_to_255_characters(mgmt, key, status):
    response = post(mgmt, "/api/v1/brands", BRAND, key)

    assert response.status_code == status
    if status == 400:
        assert response.json()["code"] == "invalid_idempotency_key"
        assert not Brand.objects.exists()


def test_a_request_still_in_flight_is_a_409(mgmt):
    first = post(mgmt, "/api/v1/brands", BRAND, "k-4")
    IdempotencyRecord.objects.filter(key="k-4").update(response_status=None, response_body=None)

    response = post(mgmt, "/api/v1/brands", BRAND, "k-4")

    assert first.status_code == 201
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_progress"


def test_key_is_kept_at_least_a_day_and_runs_anew_after_the_ttl(mgmt, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 48
    with time_machine.travel(T0, tick=False) as traveller:
        first = post(mgmt, "/api/v1/brands", BRAND, "k-5")
        traveller.shift(dt.timedelta(hours=23))
        at_23h = post(mgmt, "/api/v1/brands", BRAND, "k-5")
        traveller.shift(dt.timedelta(hours=26))  # 49 h after the first
        after_ttl = post(mgmt, "/api/v1/brands", BRAND, "k-5")

    assert first.status_code == 201
    assert at_23h.status_code == 201 and at_23h["Idempotent-Replayed"] == "true"
    assert at_23h.json()["id"] == first.json()["id"]
    # the request ran again: the slug now exists, so this time it is refused
    assert after_ttl.status_code == 400 and "Idempotent-Replayed" not in after_ttl
    assert after_ttl.json()["errors"][0]["field"] == "slug"
    assert Brand.objects.count() == 1


def test_a_ttl_setting_below_a_day_still_keeps_keys_24_hours(mgmt, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 1
    with time_machine.travel(T0, tick=False) as traveller:
        post(mgmt, "/api/v1/brands", BRAND, "k-6")
        traveller.shift(dt.timedelta(hours=23, minutes=59))
        replay = post(mgmt, "/api/v1/brands", BRAND, "k-6")
        purged_early = idempotency_purge()
        traveller.shift(dt.timedelta(minutes=2))
        purged_late = idempotency_purge()

    assert replay["Idempotent-Replayed"] == "true"
    assert (purged_early, purged_late) == (0, 1)


def test_a_server_error_is_not_stored_so_a_retry_runs(mgmt):
    mgmt.raise_request_exception = False
    payload = {"name": "A", "email": "a@example.com"}
    with mock.patch("affiliates.services.affiliate_create", side_effect=RuntimeError("database hiccup")):
        failed = post(mgmt, "/api/v1/affiliates", payload, "k-7")

    retried = post(mgmt, "/api/v1/affiliates", payload, "k-7")

    assert failed.status_code == 500
    assert failed["Content-Type"] == "application/problem+json"
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried
    assert Affiliate.objects.count() == 1


def test_keys_are_per_api_key(api, db):
    first, second = api("management"), api("management")

    a = post(first, "/api/v1/brands", BRAND, "shared")
    b = post(second, "/api/v1/brands", {**BRAND, "slug": "other"}, "shared")

    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b
    assert Brand.objects.count() == 2


def test_post_without_a_key_is_not_recorded(mgmt):
    post_once = mgmt.post("/api/v1/brands", BRAND, format="json")

    assert post_once.status_code == 201
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("action, payload", [("approve", {}), ("suspend", {"reason": "fraud review"})])
def test_status_actions_are_idempotent(mgmt, action, payload):
    status = AffiliateStatus.PENDING if action == "approve" else AffiliateStatus.ACTIVE
    affiliate = AffiliateFactory(status=status)
    url = f"/api/v1/affiliates/{affiliate.pk}/{action}"

    first = post(mgmt, url, payload, f"{action}-1")
    again = post(mgmt, url, payload, f"{action}-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert AffiliateStatusChange.objects.filter(affiliate=affiliate).count() == 1


def test_deal_assignment_create_is_idempotent(mgmt):
    deal = DealFactory(brand=BrandFactory())
    affiliate = AffiliateFactory()
    payload = {"deal": deal.pk, "affiliate": affiliate.pk, "valid_from": "2026-01-01"}

    first = post(mgmt, "/api/v1/deal-assignments", payload, "assign-1")
    again = post(mgmt, "/api/v1/deal-assignments", payload, "assign-1")

    assert first.status_code == again.status_code == 201  # not a 400 "overlaps" the second time
    assert again.json() == first.json()
    assert DealAssignment.objects.count() == 1


def test_a_passing_conflict_is_not_stored_so_a_retry_runs(mgmt):
    from django.db import IntegrityError

    payload = {"name": "A", "email": "a@example.com"}
    with mock.patch("affiliates.services.affiliate_create", side_effect=IntegrityError("duplicate key")):
        conflict = post(mgmt, "/api/v1/affiliates", payload, "k-8")

    retried = post(mgmt, "/api/v1/affiliates", payload, "k-8")

    assert conflict.status_code == 409
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried
