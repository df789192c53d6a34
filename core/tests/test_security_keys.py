"""API keys: rotation with a grace period, expiry, and the per-key rate limit (429 with Retry-After)."""

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from affiliates.tests.factories import AffiliateFactory
from core.keys import KeyRotationError, api_key_create, api_key_rotate, authenticate_key
from core.models import ApiKey
from integrations.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_counters():
    """Rate counters live in the cache, which outlives each test's rolled-back keys (whose ids recur)."""
    from django.core.cache import cache

    cache.clear()


def test_rotation_gives_a_new_key_of_the_same_scope_and_subject_and_the_old_one_works_for_the_grace_period():
    source = SourceFactory()
    with time_machine.travel(T0, tick=False):
        old, old_raw = api_key_create(name="CRM", scope="source", source=source)
        new, new_raw = api_key_rotate(key=old, grace_hours=2)

        assert (new.name, new.scope, new.source_id) == ("CRM", "source", source.pk)
        assert new_raw != old_raw and new.prefix != old.prefix
        old.refresh_from_db()
        assert old.replaced_by_id == new.pk and old.expires_at == T0 + dt.timedelta(hours=2)
        assert authenticate_key(old_raw) is not None
        assert authenticate_key(new_raw).source_id == source.pk
    with time_machine.travel(T0 + dt.timedelta(hours=2, seconds=1), tick=False):
        # the cache of resolved keys does not outlive the key's expiry
        assert authenticate_key(old_raw) is None
        assert authenticate_key(new_raw) is not None


def test_rotation_without_grace_revokes_the_old_key_at_once():
    old, old_raw = api_key_create(name="ops", scope="management")
    assert authenticate_key(old_raw) is not None  # cached now
    _, new_raw = api_key_rotate(key=old, grace_hours=0)
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert authenticate_key(old_raw) is None
    assert authenticate_key(new_raw) is not None


def test_a_rotated_or_revoked_key_cannot_be_rotated_again():
    old, _ = api_key_create(name="ops", scope="management")
    api_key_rotate(key=old)
    with pytest.raises(KeyRotationError, match="already rotated"):
        api_key_rotate(key=old)
    revoked, _ = api_key_create(name="gone", scope="management")
    api_key_rotate(key=revoked, grace_hours=0)
    with pytest.raises(KeyRotationError):
        api_key_rotate(key=ApiKey.objects.get(pk=revoked.pk), grace_hours=0)
    assert ApiKey.objects.count() == 4


def test_rotate_api_key_command_prints_the_new_key_alone_on_the_last_line():
    affiliate = AffiliateFactory()
    old, _ = api_key_create(name="Casino Kings", scope="partner", affiliate=affiliate)
    out, err = StringIO(), StringIO()
    call_command("rotate_api_key", old.prefix, "--grace-hours", "1", stdout=out, stderr=err)
    raw = out.getvalue().strip().splitlines()[-1]
    assert authenticate_key(raw).affiliate_id == affiliate.pk
    assert "works until" in err.getvalue() and raw not in err.getvalue()
    with pytest.raises(CommandError, match="no API key"):
        call_command("rotate_api_key", "000000000000", stdout=StringIO(), stderr=StringIO())


def test_rotated_key_answers_the_api_with_the_new_key_and_the_old_one_is_401_after_expiry(client):
    old, old_raw = api_key_create(name="ops", scope="management")
    with time_machine.travel(T0, tick=False):
        _, new_raw = api_key_rotate(key=old, grace_hours=1)
    with time_machine.travel(T0 + dt.timedelta(hours=3), tick=False):
        assert client.get("/api/v1/brands", HTTP_AUTHORIZATION=f"Bearer {new_raw}").status_code == 200
        answer = client.get("/api/v1/brands", HTTP_AUTHORIZATION=f"Bearer {old_raw}")
        assert answer.status_code == 401
        assert answer["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("scope", ["management", "partner"])
def test_a_key_past_its_rate_limit_gets_429_with_retry_after_and_other_keys_do_not(api, settings, scope):
    settings.API_RATE_LIMITS = {"management": 3, "partner": 3}
    affiliate = AffiliateFactory()
    subject = {"affiliate": affiliate} if scope == "partner" else {}
    url = "/api/partner/v1/commissions" if scope == "partner" else "/api/v1/brands"
    busy, calm = api(scope, **subject), api(scope, **subject)
    with time_machine.travel(T0 + dt.timedelta(seconds=15), tick=False):
        assert [busy.get(url).status_code for _ in range(3)] == [200, 200, 200]
        refused = busy.get(url)
        assert refused.status_code == 429
        assert refused["Content-Type"] == "application/problem+json"
        assert refused.json()["code"] == "rate_limited"
        assert refused["Retry-After"] == "46"  # the rest of the minute, rounded up
        assert calm.get(url).status_code == 200
    with time_machine.travel(T0 + dt.timedelta(seconds=61), tick=False):
        assert busy.get(url).status_code == 200


def test_a_zero_rate_limit_means_none(api, settings):
    settings.API_RATE_LIMITS = {"management": 0}
    client = api("management")
    assert all(client.get("/api/v1/brands").status_code == 200 for _ in range(5))


def test_source_keys_are_limited_per_source_not_per_key(api, settings):
    """The events API counts against the source's own limit (stored as rejected), not API_RATE_LIMITS."""
    settings.API_RATE_LIMITS = {"management": 1, "partner": 1, "source": 1}
    client = api("source", source=SourceFactory(rate_limit_per_minute=1000))
    body = {"event_id": "e1", "type": "registration", "customer_id": "c1"}
    assert [client.post("/api/v1/events", body).status_code for _ in range(3)] == [202, 202, 202]
