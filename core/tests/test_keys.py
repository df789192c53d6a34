"""API keys: hashed at rest, constant-time comparison, a short cache, revocation, last-used writes."""

import datetime as dt
import hashlib
import hmac
from io import StringIO
from unittest import mock

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import override_settings

from affiliates.tests.factories import AffiliateFactory
from core import keys
from core.keys import api_key_create, api_key_revoke, authenticate_key
from core.models import ApiKey
from integrations.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def test_key_is_stored_as_sha256_digest_with_a_12_hex_prefix_and_never_raw():
    key, raw = api_key_create(name="ops", scope="management")

    key.refresh_from_db()
    tag, prefix, secret = raw.split("_", 2)
    assert tag == "mgmt"
    assert prefix == key.prefix and len(prefix) == 12 and int(prefix, 16) >= 0
    assert len(secret) >= 40
    assert key.digest == hashlib.sha256(raw.encode()).hexdigest()
    stored = [str(v) for v in ApiKey.objects.filter(pk=key.pk).values_list(flat=False).first()]
    assert all(raw not in value and secret not in value for value in stored)


@pytest.mark.parametrize(
    "scope, subject, tag",
    [("management", {}, "mgmt"), ("partner", {"affiliate": True}, "ptnr"), ("source", {"source": True}, "src")],
)
def test_each_scope_key_authenticates_as_its_principal(scope, subject, tag):
    affiliate = AffiliateFactory() if subject.get("affiliate") else None
    source = SourceFactory() if subject.get("source") else None

    key, raw = api_key_create(name="k", scope=scope, affiliate=affiliate, source=source)
    principal = authenticate_key(raw)

    assert raw.startswith(tag + "_")
    assert principal.key_id == key.pk and principal.scope == scope
    assert principal.affiliate_id == (affiliate.pk if affiliate else None)
    assert principal.source_id == (source.pk if source else None)


def test_comparison_uses_constant_time_compare_digest():
    _, raw = api_key_create(name="ops", scope="management")

    with mock.patch("core.keys.hmac.compare_digest", wraps=hmac.compare_digest) as compare:
        assert authenticate_key(raw) is not None

    compare.assert_called_once_with(hashlib.sha256(raw.encode()).hexdigest(), hashlib.sha256(raw.encode()).hexdigest())


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1] + ("A" if raw[-1] != "A" else "B"),  # right prefix, wrong secret
        lambda raw: raw.replace("mgmt_", "ptnr_", 1),  # wrong tag
        lambda raw: "mgmt_zzzzzzzzzzzz_" + raw.split("_", 2)[2],  # prefix not hex
        lambda raw: "mgmt_" + raw.split("_", 2)[1] + "_",  # empty secret
        lambda raw: raw.replace("_", "", 1),  # malformed
        lambda raw: raw + "x" * 300,  # absurdly long
        lambda raw: "",
    ],
)
def test_malformed_or_wrong_keys_do_not_authenticate(mangle):
    _, raw = api_key_create(name="ops", scope="management")

    assert authenticate_key(mangle(raw)) is None


def test_revocation_takes_effect_at_once_in_the_same_process():
    key, raw = api_key_create(name="ops", scope="management")
    assert authenticate_key(raw) is not None  # now cached

    api_key_revoke(key=key)

    assert authenticate_key(raw) is None
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


@override_settings(API_KEY_CACHE_SECONDS=30)
def test_revocation_elsewhere_is_seen_once_the_cache_period_ends():
    with time_machine.travel(T0, tick=False) as traveller:
        key, raw = api_key_create(name="ops", scope="management")
        assert authenticate_key(raw) is not None
        ApiKey.objects.filter(pk=key.pk).update(revoked_at=T0)  # another process revokes it

        traveller.shift(dt.timedelta(seconds=29))
        still_cached = authenticate_key(raw)
        traveller.shift(dt.timedelta(seconds=2))
        after_ttl = authenticate_key(raw)

    assert still_cached is not None
    assert after_ttl is None


def test_cached_key_needs_no_query(django_assert_num_queries):
    with time_machine.travel(T0, tick=False):
        _, raw = api_key_create(name="ops", scope="management")
        authenticate_key(raw)
        with django_assert_num_queries(0):
            assert authenticate_key(raw) is not None


def test_last_used_at_is_written_at_most_once_a_minute():
    with time_machine.travel(T0, tick=False) as traveller:
        key, raw = api_key_create(name="ops", scope="management")
        authenticate_key(raw)
        first = ApiKey.objects.get(pk=key.pk).last_used_at

        traveller.shift(dt.timedelta(seconds=59))
        keys._cache.clear()  # force a database lookup; the last-used bookkeeping stays
        authenticate_key(raw)
        within_minute = ApiKey.objects.get(pk=key.pk).last_used_at

        traveller.shift(dt.timedelta(seconds=2))
        authenticate_key(raw)
        after_minute = ApiKey.objects.get(pk=key.pk).last_used_at

    assert first == T0
    assert within_minute == T0
    assert after_minute == T0 + dt.timedelta(seconds=61)


def test_create_api_key_prints_the_key_alone_on_the_last_line():
    out, err = StringIO(), StringIO()

    call_command("create_api_key", "--name", "ops script", "--scope", "management", stdout=out, stderr=err)

    raw = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.objects.get(name="ops script")
    assert raw.startswith(f"mgmt_{key.prefix}_")
    assert key.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert authenticate_key(raw).scope == "management"
    assert key.prefix in err.getvalue()


def test_create_api_key_makes_partner_and_source_keys():
    affiliate, source = AffiliateFactory(), SourceFactory(slug="crm-1")
    out = StringIO()

    call_command("create_api_key", "--name", "p", "--scope", "partner", "--affiliate", str(affiliate.pk), stdout=out)
    call_command("create_api_key", "--name", "s", "--scope", "source", "--source", "crm-1", stdout=out)

    partner_raw, source_raw = out.getvalue().strip().splitlines()
    assert authenticate_key(partner_raw).affiliate_id == affiliate.pk
    assert authenticate_key(source_raw).source_id == source.pk


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scope", "partner"], "--affiliate is required"),
        (["--scope", "partner", "--affiliate", "999999"], "no affiliate with id 999999"),
        (["--scope", "source"], "--source is required"),
        (["--scope", "source", "--source", "nope"], "no source 'nope'"),
        (["--scope", "management", "--source", "nope"], "--source is only for a source key"),
        (["--scope", "management", "--affiliate", "1"], "--affiliate is only for a partner key"),
    ],
)
def test_create_api_key_errors_clearly(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", "--name", "x", *args, stdout=StringIO())
    assert not ApiKey.objects.exists()


def test_create_api_key_refuses_an_unknown_scope():
    with pytest.raises(CommandError, match="invalid choice: 'root'"):
        call_command("create_api_key", "--name", "x", "--scope", "root", stdout=StringIO())
