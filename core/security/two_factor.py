"""Two-factor authentication for staff (django-otp TOTP devices): who must give a token, and enrolment.

A staff user with a confirmed TOTP device gives its current code at every admin login. With
settings.ADMIN_REQUIRE_2FA, a staff user without one is sent to the enrolment page after the password
and may use nothing else of the admin until a device is confirmed. A user who has a device must be
verified with it (in this session) before adding another: a password alone never enrols a device.
"""

from django.conf import settings
from django.db import transaction
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

PENDING_SESSION_KEY = "otp_enrol_device_id"
DEVICE_NAME = "Authenticator app"


def is_verified(request) -> bool:
    user = request.user
    return bool(getattr(user, "is_verified", None) and user.is_verified())


def two_factor_satisfied(request) -> bool:
    """Whether this signed-in staff request passed the second factor the platform asks of it."""
    user = request.user
    if is_verified(request):
        return True
    if user_has_device(user):
        return False
    return not settings.ADMIN_REQUIRE_2FA


def may_enrol(request) -> bool:
    """A staff user may add a device if it has none yet, or it has proved the one it has."""
    user = request.user
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return is_verified(request) or not user_has_device(user)


def needs_enrolment(request) -> bool:
    user = request.user
    return (
        settings.ADMIN_REQUIRE_2FA
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and not user_has_device(user)
    )


def totp_device_pending(*, request) -> TOTPDevice:
    """The unconfirmed device this session is enrolling (created on first use; its secret is new)."""
    device_id = request.session.get(PENDING_SESSION_KEY)
    device = TOTPDevice.objects.filter(pk=device_id, user=request.user, confirmed=False).first() if device_id else None
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name=DEVICE_NAME, confirmed=False)
        request.session[PENDING_SESSION_KEY] = device.pk
    return device


def totp_device_confirm(*, request, token: str) -> TOTPDevice | None:
    """Confirm the pending device with a code from the authenticator; the session is then verified by it."""
    device_id = request.session.get(PENDING_SESSION_KEY)
    token = "".join(token.split())
    if not device_id or not token.isdigit():
        return None
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device_id, user=request.user, confirmed=False).first()
        if device is None or not device.verify_token(token):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    request.session.pop(PENDING_SESSION_KEY, None)
    otp_login(request, device)
    return device


def qr_code_data_uri(device: TOTPDevice) -> str:
    import segno

    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)
