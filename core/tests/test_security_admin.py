"""The admin login: the TOTP second factor, enrolment, ADMIN_REQUIRE_2FA, and the django-axes lockout."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.test import RequestFactory
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.keys import api_key_create
from core.models import ApiKey

from .factories import StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def login(client, username, password=PASSWORD, token="", address="10.0.0.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "otp_token": token},
        REMOTE_ADDR=address,
    )


@pytest.fixture
def staff():
    return StaffUserFactory()


@pytest.fixture
def device(staff):
    return TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)


def test_staff_without_a_device_logs_in_with_the_password_alone(client, staff):
    assert login(client, staff.username).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_staff_with_a_device_must_give_its_current_code(client, staff, device):
    answer = login(client, staff.username)
    assert answer.status_code == 200
    assert "Enter the code from your authenticator app" in answer.content.decode()
    assert client.get("/admin/").status_code == 302  # not signed in

    with time_machine.travel(T0, tick=False):
        answer = login(client, staff.username, token="000000" if code(device) != "000000" else "111111")
        assert answer.status_code == 200
        assert "wrong or has expired" in answer.content.decode()
        # django-otp throttles the device after a failure: even the right code waits a moment
        assert login(client, staff.username, token=code(device)).status_code == 200
    with time_machine.travel(T0 + dt.timedelta(seconds=10), tick=False):
        assert login(client, staff.username, token=code(device)).status_code == 302
        assert client.get("/admin/").status_code == 200


def test_a_password_session_of_a_user_with_a_device_does_not_reach_the_admin(client, staff, device):
    """force_login is what a stolen password without the phone amounts to: a session that is not verified."""
    client.force_login(staff)
    assert client.get("/admin/").status_code == 302
    # and it cannot enrol a second device of its own choosing
    answer = client.get("/admin/two-factor/")
    assert answer.status_code == 302 and answer["Location"].startswith("/admin/login/")


def test_required_2fa_sends_staff_without_a_device_to_enrolment_and_blocks_the_rest(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = True
    assert login(client, staff.username).status_code == 302
    answer = client.get("/admin/", follow=True)
    assert answer.redirect_chain[-1][0] == "/admin/two-factor/"
    page = answer.content.decode()
    assert 'id="totp-qr" src="data:image/svg+xml' in page and 'id="totp-secret"' in page
    assert client.get("/admin/core/apikey/").status_code == 302

    pending = TOTPDevice.objects.get(user=staff, confirmed=False)
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # (the throttle after a wrong code is shown at login)
    wrong = client.post("/admin/two-factor/", {"token": "12345"})
    assert wrong.status_code == 200 and "does not match" in wrong.content.decode()
    done = client.post("/admin/two-factor/", {"token": code(pending)})
    assert done.status_code == 302 and done["Location"] == "/admin/"
    pending.refresh_from_db()
    assert pending.confirmed
    # the enrolling session is verified by the new device: the admin opens
    assert client.get("/admin/core/apikey/").status_code == 200

    # the next login needs the code, and a code used once is not accepted again
    client.logout()
    assert login(client, staff.username).status_code == 200
    assert login(client, staff.username, token=code(pending)).status_code == 200
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=31), tick=False):
        assert login(client, staff.username, token=code(pending)).status_code == 302


def test_the_enrolment_page_keeps_one_pending_secret_per_session(client, staff):
    client.force_login(staff)
    first = client.get("/admin/two-factor/").content
    second = client.get("/admin/two-factor/").content
    assert TOTPDevice.objects.filter(user=staff, confirmed=False).count() == 1
    assert first.split(b'id="totp-secret"')[1][:60] == second.split(b'id="totp-secret"')[1][:60]


def test_a_non_staff_user_cannot_enrol_or_reach_the_admin(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get("/admin/two-factor/").status_code == 302
    assert not TOTPDevice.objects.exists()


def test_five_failed_logins_lock_the_username_from_that_address(client, staff, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for _ in range(4):
        assert login(client, staff.username, password="wrong").status_code == 200
    assert login(client, staff.username, password="wrong").status_code == 429  # the fifth locks
    locked = login(client, staff.username)  # and then even the right password is refused
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # another address is not locked out with it
    assert login(client, staff.username, address="10.0.0.2").status_code == 302


def test_a_successful_login_resets_the_failure_count(client, staff, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        login(client, staff.username, password="wrong")
    assert login(client, staff.username).status_code == 302
    client.logout()
    for _ in range(2):
        login(client, staff.username, password="wrong")
    assert login(client, staff.username).status_code == 302


def test_any_login_through_authenticate_with_a_request_is_throttled(staff, settings):
    """The portal's login (or any other view) calls authenticate(request, ...): the same lockout applies."""
    settings.AXES_FAILURE_LIMIT = 2
    request = RequestFactory().post("/portal/login/", REMOTE_ADDR="10.0.0.9")
    for _ in range(2):
        assert authenticate(request, username=staff.username, password="wrong") is None
    assert authenticate(request, username=staff.username, password=PASSWORD) is None  # locked out
    # without a request (a management command) there is no client to lock out
    assert authenticate(username=staff.username, password=PASSWORD) == staff


def test_admin_rotate_and_revoke_links_only_ask_a_forged_link_changes_nothing(admin_client):
    key, _ = api_key_create(name="ops", scope="management")

    for verb in ("rotate", "revoke"):
        answer = admin_client.get(f"/admin/core/apikey/{key.pk}/{verb}/")
        assert answer.status_code == 200
        assert 'method="post"' in answer.content.decode()

    key.refresh_from_db()
    assert (key.revoked_at, key.replaced_by, key.expires_at) == (None, None, None)
    assert ApiKey.objects.count() == 1


def test_admin_revoke_button_revokes_after_the_confirmation(admin_client):
    key, _ = api_key_create(name="ops", scope="management")
    admin_client.post(f"/admin/core/apikey/{key.pk}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_admin_rotate_action_shows_the_new_key_once(admin_client):
    key, _ = api_key_create(name="ops", scope="management")
    answer = admin_client.post(f"/admin/core/apikey/{key.pk}/rotate/", follow=True)
    page = answer.content.decode()
    assert "Rotated" in page and "mgmt_" in page
    key.refresh_from_db()
    assert key.replaced_by is not None and key.expires_at is not None
    assert ApiKey.objects.count() == 2


def test_the_demo_manager_role_reaches_the_programme_but_not_users_keys_or_devices(client, monkeypatch, settings):
    """Staff permissions per role, as far as this branch has roles: the demo's "Affiliate managers" group."""
    import io

    from django.core.management import call_command

    from core.management.commands import seed_demo

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.setattr(seed_demo, "APP_DEMOS", ())
    call_command("seed_demo", stdout=io.StringIO())
    assert login(client, "manager", password="manager").status_code == 302
    assert client.get("/admin/affiliates/affiliate/").status_code == 200
    forbidden = ["/admin/core/apikey/", "/admin/core/user/", "/admin/otp_totp/totpdevice/"]
    forbidden.append("/admin/axes/accessattempt/")
    for url in forbidden:
        assert client.get(url).status_code == 403, url
