"""Log-in, two-factor authentication, password reset and sign-up of the partner portal."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from affiliates.choices import AffiliateStatus
from affiliates.models import Affiliate
from affiliates.tests.factories import AffiliateFactory
from portal import services

from .conftest import PASSWORD, make_partner
from .otp import code

pytestmark = pytest.mark.django_db
User = get_user_model()


def log_in(client, username, password=PASSWORD, **extra):
    return client.post("/portal/login/", {"username": username, "password": password, **extra})


def test_a_partner_logs_in_with_the_password_and_lands_on_the_dashboard(client, world):
    answer = log_in(client, "alice")
    assert answer.status_code == 302 and answer["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client, world):
    answer = log_in(client, "alice", "wrong")
    assert answer.status_code == 200
    assert b"The user name or password is not right" in answer.content
    assert client.get("/portal/").status_code == 302


def test_the_next_parameter_is_followed_only_inside_the_portal(client, world):
    assert log_in(client, "alice", next="/portal/links/")["Location"] == "/portal/links/"
    client.logout()
    assert log_in(client, "alice", next="https://evil.example.com/")["Location"] == "/portal/"
    client.logout()
    assert log_in(client, "alice", next="/admin/")["Location"] == "/portal/"


@pytest.mark.parametrize("kind", ["staff", "no affiliate", "rejected"])
def test_staff_users_without_affiliate_and_rejected_applicants_cannot_log_in(client, kind):
    user = User.objects.create_user(username="someone", password=PASSWORD, is_staff=kind == "staff")
    if kind == "staff":
        AffiliateFactory(user=user)
    if kind == "rejected":
        AffiliateFactory(user=user, status=AffiliateStatus.REJECTED)
    answer = log_in(client, "someone")
    assert answer.status_code == 200
    assert b"not a partner account" in answer.content
    client.force_login(user)
    assert client.get("/portal/")["Location"] == "/portal/login/"


def test_an_anonymous_visitor_is_sent_to_the_portal_login_not_the_admins(client, db):
    answer = client.get("/portal/commissions/")
    assert answer.status_code == 302 and answer["Location"] == "/portal/login/?next=/portal/commissions/"


def test_log_out_needs_a_post_and_ends_the_session(portal):
    assert portal.get("/portal/logout/").status_code == 405
    assert portal.post("/portal/logout/")["Location"] == "/portal/login/"
    assert portal.get("/portal/").status_code == 302


def test_log_in_is_refused_for_a_while_after_too_many_failures(client, world, settings):
    settings.PORTAL_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        log_in(client, "alice", "wrong")
    answer = log_in(client, "alice")
    assert b"Too many failed log-ins" in answer.content
    assert client.get("/portal/").status_code == 302


# --- Two-factor ---------------------------------------------------------------------------------


def turn_on_two_factor(client, user) -> list[str]:
    client.post("/portal/security/two-factor/start/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    answer = client.post("/portal/security/two-factor/confirm/", {"token": code(device)})
    assert answer.status_code == 302
    return [t.token for t in StaticToken.objects.filter(device__user=user)]


def test_setting_up_two_factor_shows_a_qr_code_and_needs_a_right_code(portal, world):
    portal.post("/portal/security/two-factor/start/")
    page = portal.get("/portal/security/")
    assert b"<svg" in page.content and b"Enter this key by hand" in page.content
    answer = portal.post("/portal/security/two-factor/confirm/", {"token": "000000"}, follow=True)
    assert b"That code is not right" in answer.content
    assert not services.two_factor_enabled(world.user)
    codes = turn_on_two_factor(portal, world.user)
    assert services.two_factor_enabled(world.user)
    assert len(codes) == 10
    page = portal.get("/portal/security/")
    assert all(c.encode() in page.content for c in codes)  # shown once, right after set-up
    assert codes[0].encode() not in portal.get("/portal/security/").content


def test_with_two_factor_on_the_password_alone_opens_no_session(client, world):
    client.force_login(world.user)
    turn_on_two_factor(client, world.user)
    client.post("/portal/logout/")
    answer = log_in(client, "alice")
    assert answer["Location"] == "/portal/login/verify/"
    assert client.get("/portal/")["Location"].startswith("/portal/login/")
    assert "_auth_user_id" not in client.session


def test_the_code_step_logs_the_partner_in_and_a_replayed_code_is_refused(client, world):
    client.force_login(world.user)
    turn_on_two_factor(client, world.user)
    client.post("/portal/logout/")
    device = TOTPDevice.objects.get(user=world.user)
    log_in(client, "alice")
    token = code(device, steps_ahead=1)
    assert client.post("/portal/login/verify/", {"token": token})["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200
    client.post("/portal/logout/")
    log_in(client, "alice")
    assert client.post("/portal/login/verify/", {"token": token}).status_code == 200  # used already
    assert client.get("/portal/").status_code == 302


def test_a_wrong_code_keeps_the_partner_out(client, world):
    client.force_login(world.user)
    turn_on_two_factor(client, world.user)
    client.post("/portal/logout/")
    log_in(client, "alice")
    answer = client.post("/portal/login/verify/", {"token": "123456"})
    assert answer.status_code == 200 and b"That code is not right" in answer.content
    assert client.get("/portal/").status_code == 302


def test_a_recovery_code_works_once_instead_of_the_app(client, world):
    client.force_login(world.user)
    codes = turn_on_two_factor(client, world.user)
    client.post("/portal/logout/")
    log_in(client, "alice")
    assert client.post("/portal/login/verify/", {"token": codes[0]})["Location"] == "/portal/"
    client.post("/portal/logout/")
    log_in(client, "alice")
    assert client.post("/portal/login/verify/", {"token": codes[0]}).status_code == 200
    assert StaticToken.objects.filter(device__user=world.user).count() == 9


def test_a_session_from_before_two_factor_was_turned_on_elsewhere_must_verify(client, world):
    client.force_login(world.user)
    device = TOTPDevice.objects.create(user=world.user, name="phone", confirmed=True)
    assert device.pk
    assert client.get("/portal/")["Location"].startswith("/portal/login/")


def test_turning_two_factor_off_needs_a_current_code(portal, world):
    turn_on_two_factor(portal, world.user)
    portal.post("/portal/security/two-factor/disable/", {"token": "000000"})
    assert services.two_factor_enabled(world.user)
    device = TOTPDevice.objects.get(user=world.user)
    with time_machine.travel(dt.timedelta(seconds=5)):  # past the throttle the wrong code started
        portal.post("/portal/security/two-factor/disable/", {"token": code(device, steps_ahead=1)})
    assert not services.two_factor_enabled(world.user)


# --- Password reset -----------------------------------------------------------------------------


def test_password_reset_mails_a_working_link_to_a_partner(client, world):
    client.post("/portal/password-reset/", {"email": "alice@example.com"})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/portal/password-reset/" in line)
    path = link.split("127.0.0.1:8000")[-1] if "127.0.0.1:8000" in link else link[link.index("/portal/") :]
    form = client.get(path, follow=True)
    assert form.status_code == 200
    answer = client.post(
        form.redirect_chain[-1][0], {"new_password1": "another-long-secret-9", "new_password2": "another-long-secret-9"}
    )
    assert answer["Location"] == "/portal/password-reset/done/"
    assert log_in(client, "alice", "another-long-secret-9")["Location"] == "/portal/"


def test_password_reset_never_mails_a_staff_account(client, db):
    User.objects.create_user(username="mgr", email="mgr@example.com", password=PASSWORD, is_staff=True)
    client.post("/portal/password-reset/", {"email": "mgr@example.com"})
    assert mail.outbox == []


# --- Sign-up ------------------------------------------------------------------------------------

SIGNUP = {
    "name": "Spin Reviews",
    "email": "Team@SpinReviews.example",
    "company": "Spin Reviews Ltd",
    "website": "https://spinreviews.example",
    "country": "MT",
    "username": "spin",
    "password1": "a-long-partner-password",
    "password2": "a-long-partner-password",
    "message": "SEO and newsletters",
    "terms": "on",
}


def test_sign_up_creates_a_pending_affiliate_with_its_login_and_mails_both_sides(
    client, db, django_capture_on_commit_callbacks
):
    manager = User.objects.create_user(username="mia", email="mia@example.com", is_staff=True, is_superuser=True)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/portal/signup/", SIGNUP)
    assert answer.status_code == 200 and b"Thank you" in answer.content
    affiliate = Affiliate.objects.get(email="team@spinreviews.example")
    assert affiliate.status == AffiliateStatus.PENDING
    assert affiliate.user.username == "spin" and not affiliate.user.is_staff
    assert affiliate.parent is None
    assert affiliate.status_changes.get().to_status == AffiliateStatus.PENDING
    recipients = sorted(r for m in mail.outbox for r in m.to)
    assert recipients == [manager.email, "team@spinreviews.example"]
    assert log_in(client, "spin", SIGNUP["password1"])["Location"] == "/portal/"
    assert b"an affiliate manager reviews your application" in client.get("/portal/").content


def test_sign_up_refuses_a_taken_email_or_user_name_and_writes_nothing(client, world):
    answer = client.post("/portal/signup/", {**SIGNUP, "email": "alice@example.com"})
    assert b"exists already" in answer.content
    answer = client.post("/portal/signup/", {**SIGNUP, "username": "ALICE"})
    assert b"This user name is taken" in answer.content
    assert not Affiliate.objects.filter(name="Spin Reviews").exists()
    assert not User.objects.filter(username="spin").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password2": "different-password-1"}, b"The two passwords differ"),
        ({"password1": "12345678", "password2": "12345678"}, b"too common"),
        ({"terms": ""}, b"This field is required"),
        ({"email": "not-an-email"}, b"Enter a valid email address"),
    ],
)
def test_sign_up_shows_what_is_wrong(client, db, change, message):
    answer = client.post("/portal/signup/", {**SIGNUP, **change})
    assert answer.status_code == 200 and message in answer.content
    assert not Affiliate.objects.exists()


def test_a_sub_affiliate_link_makes_the_applicant_a_child_of_the_sharer(client, world):
    page = client.get("/portal/sub-affiliates/")
    client.force_login(world.user)
    page = client.get("/portal/sub-affiliates/")
    ref = page.context["signup_link"].split("ref=")[1]
    client.logout()
    form = client.get(f"/portal/signup/?ref={ref}")
    assert world.affiliate.name.encode() in form.content
    client.post("/portal/signup/", {**SIGNUP, "ref": ref})
    assert Affiliate.objects.get(email="team@spinreviews.example").parent == world.affiliate


def test_a_forged_sub_affiliate_reference_is_ignored(client, world):
    other = AffiliateFactory()
    client.post("/portal/signup/", {**SIGNUP, "ref": f"{other.pk}:forged"})
    assert Affiliate.objects.get(email="team@spinreviews.example").parent is None


def test_a_pending_partner_sees_the_portal_but_cannot_create_links_or_keys(client, db):
    user, affiliate = make_partner("newbie", status=AffiliateStatus.PENDING)
    client.force_login(user)
    assert client.get("/portal/links/").status_code == 200
    client.post("/portal/links/", {"brand": "1", "landing_url": "https://casino.example.com/"})
    client.post("/portal/api-keys/", {"name": "tracker"})
    assert not affiliate.tracking_links.exists() and not affiliate.api_keys.exists()
