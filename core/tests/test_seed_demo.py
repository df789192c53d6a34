"""`seed_demo`: the whole demo programme, and a second run changes nothing."""

import io
import sys
import types

import pytest
from django.apps import apps
from django.core.management import call_command

from affiliates.choices import AffiliateStatus, DealKind
from affiliates.models import Affiliate, Brand, Deal, DealAssignment
from core.keys import authenticate_key
from core.management.commands import seed_demo
from core.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def programme_only(monkeypatch):
    """Only the affiliates programme: the other apps' demos are covered by the idempotency test."""
    monkeypatch.setattr(seed_demo, "APP_DEMOS", ())


def _run() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _row_counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m is not ApiKey}


def test_seed_demo_twice_changes_nothing_but_the_demo_key():
    first = _run()
    counts = _row_counts()
    second = _run()

    assert _row_counts() == counts
    first_key, second_key = first.strip().splitlines()[-1], second.strip().splitlines()[-1]
    assert first_key != second_key
    assert authenticate_key(first_key) is None  # the earlier demo key is revoked
    principal = authenticate_key(second_key)
    assert principal is not None and principal.scope == "management"
    assert ApiKey.objects.filter(name=seed_demo.DEMO_KEY_NAME, revoked_at__isnull=True).count() == 1
    assert "admin / admin" in second and "/admin/" in second


def test_seed_demo_builds_the_programme(programme_only):
    _run()

    brands = {b.slug: b for b in Brand.objects.all()}
    assert set(brands) == {"lucky-casino", "atlas-fx", "summit-prop"}
    casino = brands["lucky-casino"]
    assert (casino.currency, casino.timezone, casino.click_param) == ("EUR", "Europe/Malta", "btag")
    assert (brands["atlas-fx"].currency, brands["summit-prop"].currency) == ("USD", "USD")

    assert Affiliate.objects.count() == 12
    assert set(Affiliate.objects.values_list("status", flat=True)) == set(AffiliateStatus.values)
    leaf = Affiliate.objects.get(name="Bonus Hunter Blog")
    assert leaf.parent.name == "Slots Review Hub" and leaf.parent.parent.name == "Casino Kings Media"
    assert Affiliate.objects.get(name="Spin Deals").status_changes.filter(to_status="suspended").get().reason

    kinds = set(Deal.objects.values_list("kind", flat=True))
    assert kinds == set(DealKind.values)
    versions = [v for d in Deal.objects.all() for v in d.versions.all()]
    assert any(v.tiers for v in versions if v.kind == DealKind.CPA)
    assert any(v.country_amounts and v.qualification.get("min_ftd") for v in versions)
    revshare = [v for v in versions if v.kind == DealKind.REVSHARE]
    assert {v.negative_carryover for v in revshare} == {True, False}
    assert any(v.rebate_groups for v in versions if v.kind == DealKind.REBATE)
    assert any(v.subaffiliate_percent > 0 for v in versions)
    versioned = Deal.objects.get(name="Casino CPA Europe")
    assert versioned.versions.count() == 2 and versioned.current_version == 2

    assert DealAssignment.objects.filter(affiliate__isnull=True).count() == 3  # one default per brand
    assert DealAssignment.objects.exclude(overrides={}).exists()


def test_logins_work(client, programme_only):
    _run()
    assert client.login(username="admin", password="admin")
    client.logout()
    assert client.login(username="manager", password="manager")
    assert client.get("/admin/affiliates/affiliate/").status_code == 200


def test_each_app_demo_gets_the_programme_and_its_lines_are_printed(monkeypatch):
    seen = {}
    module = types.ModuleType("h1_probe_demo")

    def seed(ctx):
        seen.update(ctx)
        return ["probe: 3 things"]

    module.seed = seed
    monkeypatch.setitem(sys.modules, "h1_probe_demo", module)
    monkeypatch.setattr(seed_demo, "APP_DEMOS", ("h1_probe_demo", "no_such_app.demo"))

    out = _run()

    assert "probe: 3 things" in out
    assert set(seen["brands"]) == {"lucky-casino", "atlas-fx", "summit-prop"}
    assert seen["affiliates"]["Casino Kings Media"].status == AffiliateStatus.ACTIVE
    assert seen["deals"]["Casino CPA Europe"].current_version == 2
    assert seen["manager"].username == "manager"
