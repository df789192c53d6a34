"""API keys in the admin: the raw key is shown once, only its digest is kept, revocation works."""

import hashlib
import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from core.keys import api_key_create, authenticate_key
from core.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


KEY = re.compile(r"(mgmt|src|ptnr)_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_key_pages_render(admin_client):
    key, _ = api_key_create(name="ops", scope="management")
    assert admin_client.get(reverse("admin:core_apikey_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:core_apikey_add")).status_code == 200
    assert admin_client.get(reverse("admin:core_apikey_change", args=[key.pk])).status_code == 200


def test_creating_a_key_shows_it_once_and_stores_only_its_digest(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:core_apikey_add"), {"name": "back office", "scope": "management"}, follow=True
    )
    assert response.redirect_chain[-1][1] == 302
    raw = KEY.search(response.content.decode()).group(0)
    assert response.content.decode().count(raw) == 1

    key = ApiKey.objects.get(name="back office")
    assert key.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert key.prefix == raw.split("_")[1]
    assert key.created_by == admin_user
    assert all(raw not in str(getattr(key, f.attname)) for f in ApiKey._meta.concrete_fields if f.name != "digest")
    assert authenticate_key(raw).key_id == key.pk

    for url in (reverse("admin:core_apikey_changelist"), reverse("admin:core_apikey_change", args=[key.pk])):
        page = admin_client.get(url).content.decode()
        assert raw not in page
        assert key.prefix in page


def test_a_partner_key_without_an_affiliate_is_a_form_error(admin_client):
    response = admin_client.post(reverse("admin:core_apikey_add"), {"name": "p", "scope": "partner"})
    assert response.status_code == 200
    assert "A partner key belongs to one affiliate." in str(response.context["adminform"].form.errors)
    assert not ApiKey.objects.exists()


def test_revoke_action_stops_the_key_working(admin_client):
    key, raw = api_key_create(name="old", scope="management")
    _, other_raw = api_key_create(name="kept", scope="management")
    response = admin_client.post(
        reverse("admin:core_apikey_changelist"), {"action": "revoke", ACTION_CHECKBOX_NAME: [key.pk]}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert authenticate_key(raw) is None
    assert authenticate_key(other_raw) is not None


def test_revoke_from_the_key_page(admin_client):
    key, raw = api_key_create(name="old", scope="management")
    response = admin_client.post(reverse("admin:core_apikey_revoke_detail", args=[key.pk]))
    assert response.status_code == 302
    assert authenticate_key(raw) is None
