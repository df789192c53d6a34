"""Writes the partner portal makes: sign-up, two-factor devices, partner API keys, postback tests and
payment-detail changes. Each calls the owning app's service where one exists; nothing here computes money.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.exceptions import ValidationError as ApiValidationError

from affiliates.choices import AffiliateStatus, PaymentMethod
from affiliates.models import Affiliate
from affiliates.services import affiliate_create, affiliate_update
from core.keys import api_key_create, api_key_revoke
from core.models import ApiKey, ApiKeyScope
from integrations.webhooks.choices import TEST_EVENT_TYPE
from integrations.webhooks.models import Delivery, OutboxEvent, PartnerPostback
from integrations.webhooks.postbacks import render_template
from integrations.webhooks.services import validate_url_template

log = logging.getLogger(__name__)
User = get_user_model()

SUBAFFILIATE_SALT = "portal.subaffiliate"
PAYMENT_SALT = "portal.payment-details"
RECOVERY_CODES = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


class PortalError(Exception):
    """A request the portal refuses, with a message for the partner."""


def _errors(exc: ApiValidationError | ValidationError) -> str:
    """One readable sentence from a DRF or Django validation error."""
    detail = getattr(exc, "detail", None)
    if detail is None:
        detail = getattr(exc, "message_dict", None) or exc.messages
    parts: list[str] = []

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        else:
            parts.append(str(value))

    walk(detail)
    return " ".join(parts)


def _mail(subject: str, body: str, recipients: list[str]) -> None:
    """Send after the transaction commits; a mail server that is down is logged, the change stands."""
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return

    def send():
        try:
            send_mail(f"[Affiliate Platform] {subject}", body, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception:
            log.exception("could not send %r", subject)

    transaction.on_commit(send)


def manager_emails(affiliate: Affiliate | None = None) -> list[str]:
    """Who hears of a partner's request: its account manager, else every active staff user who may change
    affiliates (the affiliate managers), else the superusers."""
    if affiliate is not None and affiliate.manager_id and affiliate.manager.email:
        return [affiliate.manager.email]
    managers = User.objects.with_perm(
        "affiliates.change_affiliate", backend="django.contrib.auth.backends.ModelBackend"
    ).filter(is_active=True, is_staff=True)
    emails = sorted(set(managers.exclude(email="").values_list("email", flat=True)))
    if not emails:
        emails = sorted(
            set(
                User.objects.filter(is_superuser=True, is_active=True).exclude(email="").values_list("email", flat=True)
            )
        )
    return emails


def absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


# --- Sign-up ------------------------------------------------------------------------------------


def subaffiliate_ref(*, affiliate: Affiliate) -> str:
    """The signed reference a sub-affiliate sign-up link carries: it names the parent, and cannot be forged."""
    return signing.dumps(affiliate.pk, salt=SUBAFFILIATE_SALT, compress=True)


def subaffiliate_parent(ref: str) -> Affiliate | None:
    """The active affiliate a sign-up reference names, or None for a missing, forged or stale one."""
    if not ref:
        return None
    try:
        pk = signing.loads(ref, salt=SUBAFFILIATE_SALT)
    except signing.BadSignature:
        return None
    return Affiliate.objects.filter(pk=pk, status=AffiliateStatus.ACTIVE).first()


@transaction.atomic
def partner_signup(
    *,
    username: str,
    password: str,
    name: str,
    email: str,
    company: str = "",
    website: str = "",
    country: str = "",
    parent: Affiliate | None = None,
    message: str = "",
) -> Affiliate:
    """An application: a portal user and a pending affiliate for a manager to approve. The applicant and the
    managers are e-mailed. A taken user name or e-mail is refused before anything is written."""
    email = email.strip().lower()
    if User.objects.filter(username__iexact=username).exists():
        raise PortalError("This user name is taken; choose another.")
    if Affiliate.objects.filter(email__iexact=email).exists() or User.objects.filter(email__iexact=email).exists():
        raise PortalError("An account with this e-mail address exists already; log in or reset the password.")
    user = User(username=username, email=email, is_staff=False, is_active=True)
    user.set_password(password)
    try:
        user.full_clean()
        with transaction.atomic():
            user.save()
    except ValidationError as exc:
        raise PortalError(_errors(exc)) from exc
    except IntegrityError as exc:  # the same user name applied a moment ago
        raise PortalError("This user name is taken; choose another.") from exc
    try:
        affiliate = affiliate_create(
            name=name.strip(),
            email=email,
            company=company.strip(),
            website=website.strip(),
            country=country,
            parent=parent,
            user=user,
            status=AffiliateStatus.PENDING,
            notes=f"Applied through the partner portal.{(' Message: ' + message.strip()) if message.strip() else ''}",
        )
    except (ValidationError, ApiValidationError) as exc:
        raise PortalError(_errors(exc)) from exc
    except IntegrityError as exc:  # the same e-mail applied a moment ago
        raise PortalError("An account with this e-mail address exists already.") from exc
    _mail(
        "Your application was received",
        f"Hello {affiliate.name},\n\nthank you for applying to our affiliate programme. An affiliate manager "
        f"reviews your application and you hear from us by e-mail. You can log in at "
        f"{absolute(reverse('portal:login'))} with the user name {user.username}.\n",
        [email],
    )
    referred = f"Referred by {parent.name} (#{parent.pk}) as a sub-affiliate.\n" if parent else ""
    _mail(
        f"New affiliate application: {affiliate.name}",
        f"{affiliate.name} ({email}, {company or 'no company'}, {country or 'no country'}) applied through the "
        f"partner portal.\n{referred}Website: {website or '-'}\nMessage: {message.strip() or '-'}\n\n"
        f"Review it: {absolute(reverse('admin:affiliates_affiliate_change', args=[affiliate.pk]))}\n",
        manager_emails(),
    )
    return affiliate


# --- Two-factor authentication ------------------------------------------------------------------


def totp_device_start(*, user) -> TOTPDevice:
    """A fresh unconfirmed authenticator for the user (an earlier unconfirmed one is replaced)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def totp_device_confirm(*, user, token: str) -> list[str]:
    """Confirm the pending authenticator with a code from it; returns new recovery codes (shown once)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        raise PortalError("Start the set-up again: no authenticator is waiting for confirmation.")
    if not device.verify_token((token or "").replace(" ", "")):
        raise PortalError("That code is not right. Check the time on your phone and enter the current code.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return recovery_codes_new(user=user)


def recovery_codes_new(*, user) -> list[str]:
    """Replace the user's recovery codes with new single-use ones; returns them (shown once)."""
    with transaction.atomic():
        device, _ = StaticDevice.objects.get_or_create(
            user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def two_factor_disable(*, user) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def two_factor_enabled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_verify(*, user, token: str):
    """The device (authenticator or a recovery code, used up) that accepts `token`, or None."""
    token = (token or "").replace(" ", "").strip().lower()
    if not token:
        return None
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if device.verify_is_allowed()[0] and device.verify_token(token):
            return device
    for device in StaticDevice.objects.filter(user=user, confirmed=True):
        if device.verify_is_allowed()[0] and device.verify_token(token):
            return device
    return None


# --- Partner API keys ---------------------------------------------------------------------------


def partner_key_create(*, affiliate: Affiliate, name: str, by) -> tuple[ApiKey, str]:
    """A partner-scope key of this affiliate; the raw key is returned once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise PortalError("Name the key (1 to 120 characters), e.g. after the tool that uses it.")
    if ApiKey.objects.filter(affiliate=affiliate, scope=ApiKeyScope.PARTNER, revoked_at__isnull=True).count() >= 20:
        raise PortalError("You have 20 active keys; revoke one you no longer use first.")
    return api_key_create(name=name, scope=ApiKeyScope.PARTNER, affiliate=affiliate, created_by=by)


def partner_key_revoke(*, affiliate: Affiliate, key_id: int) -> ApiKey:
    key = ApiKey.objects.get(pk=key_id, affiliate=affiliate, scope=ApiKeyScope.PARTNER)
    return api_key_revoke(key=key)


# --- Postbacks ----------------------------------------------------------------------------------


TEST_VALUES = {
    "click_id": "test-click-id",
    **{f"sub{n}": f"test-sub{n}" for n in range(1, 6)},
    "payout": "0.00",
    "currency": settings.BASE_CURRENCY,
    "customer_id": "test-customer",
}


def postback_send_test(*, postback: PartnerPostback) -> Delivery:
    """Fire this postback once with sample values, through the same delivery path as real ones (queue,
    SSRF guard at connect time, attempt log); a disabled postback is not sent."""
    from integrations.webhooks.tasks import enqueue_deliveries

    try:
        validate_url_template(postback.url_template)
    except ApiValidationError as exc:
        raise PortalError(_errors(exc)) from exc
    if not postback.enabled:
        raise PortalError("This postback is disabled: enable it first, then send a test.")
    now = timezone.now()
    with transaction.atomic():
        event = OutboxEvent.objects.create(
            type=TEST_EVENT_TYPE,
            data={"postback": postback.pk, "event": postback.event, "message": "A test postback."},
            affiliate_id=postback.affiliate_id,
            created_at=now,
            dispatched_at=now,
        )
        values = {**TEST_VALUES, "event": postback.event, "event_id": f"test-{event.pk}"}
        delivery = Delivery.objects.create(
            event=event, postback=postback, url=render_template(postback.url_template, values), next_attempt_at=now
        )
        transaction.on_commit(lambda: enqueue_deliveries([delivery.pk]))
    return delivery


# --- Payment details ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentChange:
    affiliate_id: int
    user_id: int
    payment_method: str
    payment_details: dict
    base: str  # a digest of the details it replaces: a token for an outdated state is refused


def _payment_digest(affiliate: Affiliate) -> str:
    current = {"method": affiliate.payment_method, "details": affiliate.payment_details}
    return hashlib.sha256(json.dumps(current, sort_keys=True, default=str).encode()).hexdigest()[:32]


def payment_change_request(*, affiliate: Affiliate, user, payment_method: str, payment_details: dict) -> str:
    """E-mail the affiliate a confirmation link that carries the new details (signed, expiring). Nothing
    changes until it is opened; returns the token."""
    if payment_method not in PaymentMethod.values:
        raise PortalError("Choose a payment method.")
    if not isinstance(payment_details, dict) or not all(isinstance(v, str) for v in payment_details.values()):
        raise PortalError("Payment details are named text fields.")
    if not any(v.strip() for v in payment_details.values()):
        raise PortalError("Enter the details of the account we pay into.")
    token = signing.dumps(
        {
            "a": affiliate.pk,
            "u": user.pk,
            "m": payment_method,
            "d": payment_details,
            "b": _payment_digest(affiliate),
        },
        salt=PAYMENT_SALT,
        compress=True,
    )
    hours = settings.PORTAL_PAYMENT_CONFIRM_HOURS
    link = absolute(reverse("portal:payment-confirm", args=[token]))
    _mail(
        "Confirm your new payment details",
        f"Hello {affiliate.name},\n\nsomeone signed in as {user.username} asked to change the payment details "
        f"of your affiliate account to:\n\n  method: {payment_method}\n"
        + "".join(f"  {k}: {v}\n" for k, v in payment_details.items())
        + f"\nConfirm the change within {hours} hours by opening:\n{link}\n\n"
        "If you did not ask for this, ignore this e-mail and change your password: nothing changes.\n",
        [affiliate.email, user.email],
    )
    return token


def payment_change_read(token: str) -> PaymentChange:
    try:
        data = signing.loads(token, salt=PAYMENT_SALT, max_age=settings.PORTAL_PAYMENT_CONFIRM_HOURS * 3600)
    except signing.SignatureExpired as exc:
        raise PortalError("This confirmation link has expired. Enter the new details again.") from exc
    except signing.BadSignature as exc:
        raise PortalError("This confirmation link is not valid.") from exc
    return PaymentChange(
        affiliate_id=data["a"], user_id=data["u"], payment_method=data["m"], payment_details=data["d"], base=data["b"]
    )


def payment_change_confirm(*, token: str, affiliate: Affiliate, user) -> Affiliate:
    """Apply the change a confirmation link carries, through affiliate_update (audited, announced). The link
    works once, for the affiliate that asked, and only while the details are still those it replaces."""
    change = payment_change_read(token)
    if change.affiliate_id != affiliate.pk:
        raise PortalError("This confirmation link belongs to another account.")
    with transaction.atomic():
        locked = Affiliate.objects.select_for_update().get(pk=affiliate.pk)
        if _payment_digest(locked) != change.base:
            raise PortalError("The payment details changed since this link was sent; it can no longer be used.")
        try:
            updated = affiliate_update(
                affiliate=locked,
                by=user,
                payment_method=change.payment_method,
                payment_details=change.payment_details,
            )
        except (ValidationError, ApiValidationError) as exc:
            raise PortalError(_errors(exc)) from exc
    _mail(
        "Your payment details were changed",
        f"Hello {updated.name},\n\nthe payment details of your affiliate account were changed to "
        f"{updated.get_payment_method_display()} on {timezone.now():%Y-%m-%d %H:%M} UTC.\n",
        [updated.email, *manager_emails(updated)],
    )
    return updated


def active_partner_keys(affiliate: Affiliate):
    return ApiKey.objects.filter(affiliate=affiliate, scope=ApiKeyScope.PARTNER).filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__gte=timezone.now() - timedelta(days=30))
    )
