"""`/api/v1/sources`: create (the key once), presets, versioned mapping saves, dry run."""

import pytest
from django.test import Client

from affiliates.tests.factories import BrandFactory
from integrations.models import InboundEvent, MappingVersion, Source
from integrations.presets import preset_mapping, preset_names

pytestmark = pytest.mark.django_db


def create(mgmt, **body):
    brand = body.pop("brand", None) or BrandFactory()
    return mgmt.post("/api/v1/sources", {"slug": "crm", "name": "CRM", "brand": brand.slug, **body}, format="json")


def test_create_answers_the_key_once_and_the_key_ingests(mgmt):
    response = create(mgmt, preset="casino_postbacks")
    assert response.status_code == 201
    body = response.json()
    key = body["api_key"]
    assert body["mapping"] == preset_mapping("casino_postbacks") and body["mapping_version"] == 1
    assert body["postback_url"].endswith("/postback/crm/")
    assert "api_key" not in mgmt.get("/api/v1/sources/crm").json()
    postback = Client().get(f"/postback/crm/?action=reg&player=P1&key={key}")
    assert postback.status_code == 202


def test_every_shipped_preset_is_offered_and_valid(mgmt):
    assert {"casino_postbacks", "mt5_deals", "prop_shop_webhooks", "crm_events", "default"} <= set(preset_names())
    for n, name in enumerate(preset_names()):
        assert create(mgmt, slug=f"s{n}", preset=name).status_code == 201


def test_an_unknown_preset_or_invalid_mapping_is_refused(mgmt):
    assert create(mgmt, preset="nope").status_code == 400
    response = create(mgmt, mapping={"fields": {"amonut": "a"}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "mapping"
    assert not Source.objects.exists()


def test_each_mapping_save_is_a_new_version_with_who_and_when(mgmt):
    create(mgmt, preset="crm_events")
    mapping = preset_mapping("crm_events") | {"timezone": "Europe/Athens"}
    response = mgmt.patch("/api/v1/sources/crm", {"mapping": mapping, "note": "CRM moved"}, format="json")
    assert response.status_code == 200 and response.json()["mapping_version"] == 2
    mgmt.patch("/api/v1/sources/crm", {"mapping": mapping}, format="json")  # unchanged: no new version
    versions = mgmt.get("/api/v1/sources/crm/mapping-versions").json()
    assert [(v["version"], v["note"]) for v in versions] == [(2, "CRM moved"), (1, "created from preset crm_events")]
    assert versions[0]["created_at"]
    assert MappingVersion.objects.get(version=2).mapping["timezone"] == "Europe/Athens"


def test_changing_the_preset_resets_the_mapping_as_a_new_version(mgmt):
    create(mgmt, preset="crm_events")
    body = mgmt.patch("/api/v1/sources/crm", {"preset": "mt5_deals"}, format="json").json()
    assert body["mapping"] == preset_mapping("mt5_deals") and body["mapping_version"] == 2


def test_slug_and_brand_cannot_change(mgmt):
    create(mgmt)
    assert mgmt.patch("/api/v1/sources/crm", {"slug": "other"}, format="json").status_code == 400
    assert mgmt.patch("/api/v1/sources/crm", {"brand": BrandFactory().slug}, format="json").status_code == 400


def test_mapping_test_answers_the_canonical_event_and_stores_nothing(mgmt):
    create(mgmt, preset="casino_postbacks")
    response = mgmt.post(
        "/api/v1/sources/crm/mapping-test",
        {"query": "action=first_dep&player=P1&dep_id=D9&amt=5000&cur=EUR&ts=2026-11-01T10:05:00Z"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "canonical": {"type": "ftd", "event_id": "D9", "customer_id": "P1", "amount": "50.00", "currency": "EUR",
                      "occurred_at": "2026-11-01T10:05:00+00:00", "status": "qualified"},
        "event_id": "D9", "reason_code": "", "errors": [],
    }  # fmt: skip
    assert not InboundEvent.objects.exists()


def test_mapping_test_reports_errors_and_tries_an_unsaved_mapping(mgmt):
    create(mgmt)
    bad = mgmt.post("/api/v1/sources/crm/mapping-test", {"payload": {"type": "jackpot"}}, format="json").json()
    assert (bad["ok"], bad["reason_code"]) == (False, "unknown_event_type")
    trial = mgmt.post(
        "/api/v1/sources/crm/mapping-test",
        {"payload": {"kind": "signup", "who": 7}, "mapping": {"fields": {"type": "kind", "customer_id": "who"}}},
        format="json",
    ).json()
    assert trial["ok"] and trial["canonical"]["customer_id"] == "7"
    assert Source.objects.get(slug="crm").mapping == {}  # the trial mapping was not saved
    invalid = mgmt.post("/api/v1/sources/crm/mapping-test", {"payload": {}, "mapping": {"x": 1}}, format="json")
    assert invalid.status_code == 400
    neither = mgmt.post("/api/v1/sources/crm/mapping-test", {}, format="json")
    assert neither.status_code == 400


def test_sources_need_a_management_key(source_client):
    _source, client = source_client()
    assert client.get("/api/v1/sources").status_code == 403
