"""Admin: sources with dry run and versions, the inbound log with replay, FX import."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from affiliates.tests.factories import BrandFactory
from integrations.models import FxRate, InboundEvent, InboundStatus, MappingVersion, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def test_adding_a_source_shows_its_key_once_and_makes_version_1(admin_client_):
    brand = BrandFactory()
    response = admin_client_.post(
        reverse("admin:integrations_source_add"),
        {
            "slug": "casino",
            "name": "Casino",
            "brand": brand.pk,
            "kind": "gaming_backend",
            "preset": "casino_postbacks",
            "mapping": "",
            "rate_limit_per_minute": 100,
            "is_active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert any("Source key" in str(m) for m in response.context["messages"])
    source = Source.objects.get(slug="casino")
    assert source.mapping["fields"]["click_id"] == "btag"
    assert MappingVersion.objects.get(source=source).created_by == admin_client_.user


def test_dry_run_shows_the_canonical_event_and_save_makes_a_version(admin_client_, make_source):
    source, _ = make_source(preset="casino_postbacks")
    url = reverse("admin:integrations_source_mapping_test", args=[source.pk])
    assert admin_client_.get(url).status_code == 200
    import json

    mapping = json.dumps(source.mapping)
    tested = admin_client_.post(
        url, {"mapping": mapping, "sample": "action=dep&player=P&dep_id=D&amt=100&cur=EUR", "_test": "1"}
    )
    assert b"Canonical event" in tested.content and b"1.00" in tested.content
    rejected = admin_client_.post(url, {"mapping": mapping, "sample": "action=jackpot", "_test": "1"})
    assert b"unknown_event_type" in rejected.content
    invalid = admin_client_.post(url, {"mapping": '{"fields": {"nope": "x"}}', "sample": "", "_test": "1"})
    assert b"The mapping is invalid" in invalid.content
    admin_client_.post(url, {"mapping": mapping, "sample": "", "_save": "1", "note": "checked"})
    assert list(source.mapping_versions.values_list("version", flat=True).order_by("version")) == [1]  # unchanged
    changed = json.dumps({**source.mapping, "timezone": "Europe/Malta"})
    admin_client_.post(url, {"mapping": changed, "sample": "", "_save": "1", "note": "Malta"})
    latest = source.mapping_versions.order_by("-version").first()
    assert (latest.version, latest.note, latest.created_by) == (2, "Malta", admin_client_.user)


def test_inbound_log_filters_by_reason_shows_raw_and_canonical_and_replays(admin_client_, make_source):
    source, key = make_source(preset="casino_postbacks")
    bad = Client().get(f"/postback/{source.slug}/?action=jackpot&player=P1&dep_id=J1&amt=100&cur=EUR&key={key}")
    good = Client().get(f"/postback/{source.slug}/?action=dep&player=P1&dep_id=D1&amt=100&cur=EUR&key={key}")
    bad_id, good_id = int(bad.json()["id"]), int(good.json()["id"])
    changelist = reverse("admin:integrations_inboundevent_changelist")
    listing = admin_client_.get(changelist, {"reason": "unknown_event_type"})
    assert listing.status_code == 200 and b"unknown_event_type" in listing.content
    detail = admin_client_.get(reverse("admin:integrations_inboundevent_change", args=[good_id]))
    assert detail.status_code == 200
    page = detail.content.decode().lower()
    assert "as received | as mapped" in page and "&quot;deposit&quot;" in page and "base amount" in page
    # fix the mapping, then replay single and in bulk
    source.mapping["event_types"]["jackpot"] = "revenue"
    from integrations.services import mapping_save

    mapping_save(source=source, mapping=source.mapping, by=admin_client_.user, note="jackpots are revenue")
    replay_url = reverse("admin:integrations_inboundevent_replay", args=[bad_id])
    assert admin_client_.get(replay_url).status_code == 200
    done = admin_client_.post(replay_url, follow=True)
    assert any("1 processed" in str(m) for m in done.context["messages"])
    assert InboundEvent.objects.get(pk=bad_id).status == InboundStatus.PROCESSED
    bulk = admin_client_.post(
        changelist, {"action": "replay_selected", "_selected_action": [bad_id, good_id]}, follow=True
    )
    assert any("2 processed" in str(m) for m in bulk.context["messages"])


def test_fx_rates_import_from_an_ecb_file(admin_client_):
    url = reverse("admin:integrations_fxrate_import")
    assert admin_client_.get(url).status_code == 200
    upload = SimpleUploadedFile("eurofxref.csv", b"Date, USD, GBP, \n27 November 2026, 1.0500, 0.8400, \n")
    response = admin_client_.post(url, {"file": upload}, follow=True)
    assert any("Imported 2 new" in str(m) for m in response.context["messages"])
    assert FxRate.objects.count() == 2
    broken = admin_client_.post(url, {"file": SimpleUploadedFile("x.csv", b"nonsense")})
    assert b"Date" in broken.content
    assert admin_client_.get(reverse("admin:integrations_fxrate_changelist")).status_code == 200


def test_source_and_version_pages_render(admin_client_, make_source):
    source, _ = make_source(preset="mt5_deals")
    assert admin_client_.get(reverse("admin:integrations_source_change", args=[source.pk])).status_code == 200
    assert admin_client_.get(reverse("admin:integrations_source_changelist")).status_code == 200
    version = source.mapping_versions.get()
    assert admin_client_.get(reverse("admin:integrations_mappingversion_change", args=[version.pk])).status_code == 200
