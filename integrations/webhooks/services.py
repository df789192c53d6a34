"""Writes for webhook endpoints, partner postbacks and deliveries. The API and the admin call these."""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from .choices import ALL_EVENTS, EVENT_TYPES, TEST_EVENT_TYPE, DeliveryStatus, NoticeKind, PostbackEvent
from .models import Delivery, DeliveryNotice, OutboxEvent, PartnerPostback, WebhookEndpoint
from .postbacks import MACROS, render_template
from .signing import secret_generate
from .ssrf import UnsafeTarget, check_url_at_save

log = logging.getLogger(__name__)


# --- Validation ---------------------------------------------------------------------------------


def validate_target_url(url: str, *, field: str = "url") -> None:
    try:
        check_url_at_save(url)
    except UnsafeTarget as exc:
        raise ValidationError({field: f"This target is not allowed: {exc}."}, code="unsafe_target") from exc


def validate_event_types(event_types) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise ValidationError({"event_types": 'Give a list of event types, or ["*"] for all.'})
    unknown = sorted({t for t in event_types if t != ALL_EVENTS and t not in EVENT_TYPES})
    if unknown:
        raise ValidationError({"event_types": f"Unknown event types: {', '.join(map(str, unknown))}."})
    return sorted(set(event_types))


def validate_url_template(template: str) -> None:
    """A template must be an allowed target once its macros are filled in; macros cannot choose the host."""
    sample = render_template(template, dict.fromkeys(MACROS, "x"))
    empty = render_template(template, dict.fromkeys(MACROS, ""))
    validate_target_url(sample, field="url_template")
    from .ssrf import parse_target_url

    if parse_target_url(sample)[1] != parse_target_url(empty)[1]:
        raise ValidationError({"url_template": "Macros may not appear in the host name."})


# --- Endpoints ----------------------------------------------------------------------------------


def endpoint_create(
    *, url: str, event_types: list[str], description: str = "", enabled: bool = True, affiliate=None
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its signing secret, which is shown only this once."""
    validate_target_url(url)
    endpoint = WebhookEndpoint.objects.create(
        url=url,
        event_types=validate_event_types(event_types),
        description=description,
        enabled=enabled,
        affiliate=affiliate,
        secret=secret_generate(),
        disabled_at=None if enabled else timezone.now(),
    )
    return endpoint, endpoint.secret


def endpoint_update(*, endpoint: WebhookEndpoint, **fields) -> WebhookEndpoint:
    """Change an endpoint's URL, event types, description or enabled flag. Enabling clears its failure record."""
    if "url" in fields:
        validate_target_url(fields["url"])
    if "event_types" in fields:
        fields["event_types"] = validate_event_types(fields["event_types"])
    if "enabled" in fields and fields["enabled"] != endpoint.enabled:
        if fields["enabled"]:
            fields |= {"failing_since": None, "disabled_at": None, "disabled_reason": ""}
        else:
            fields |= {"disabled_at": timezone.now(), "disabled_reason": "disabled by a manager"}
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.save()
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, grace_hours: float | None = None) -> str:
    """Give the endpoint a new secret and return it (shown once). For `grace_hours` (default setting) the old
    secret signs too, so receivers can switch without losing a message."""
    hours = settings.WEBHOOKS_SECRET_GRACE_HOURS if grace_hours is None else grace_hours
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + timedelta(hours=hours)
        endpoint.secret = secret_generate()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint.secret


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> Delivery:
    """Send a `webhook.test` event to this endpoint only (enabled or not: a manager is checking it)."""
    from .tasks import enqueue_deliveries

    now = timezone.now()
    with transaction.atomic():
        event = OutboxEvent.objects.create(
            type=TEST_EVENT_TYPE,
            data={"endpoint": endpoint.pk, "message": "A test event from the affiliate platform."},
            created_at=now,
            dispatched_at=now,
        )
        delivery = Delivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=now)
        if not endpoint.enabled:
            # A disabled endpoint's deliveries are cancelled; the test goes out through a one-off enable check.
            delivery.last_error = "endpoint disabled: test not sent"
            delivery.status = DeliveryStatus.CANCELLED
            delivery.finished_at = now
            delivery.save(update_fields=["last_error", "status", "finished_at"])
            return delivery
        transaction.on_commit(lambda: enqueue_deliveries([delivery.pk]))
    return delivery


def endpoint_disable(*, endpoint_id: int, reason: str) -> bool:
    """Disable an endpoint that keeps failing (or answered 410), record a notice and mail the managers.
    Returns False when it was already disabled."""
    now = timezone.now()
    changed = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).update(
        enabled=False, disabled_at=now, disabled_reason=reason[:500]
    )
    if not changed:
        return False
    endpoint = WebhookEndpoint.objects.select_related("affiliate__manager").get(pk=endpoint_id)
    recipients = _manager_emails(endpoint.affiliate)
    message = f"The webhook endpoint {endpoint.url} (#{endpoint.pk}) was disabled: {reason}"
    _notify(kind=NoticeKind.ENDPOINT_DISABLED, endpoint=endpoint, message=message, recipients=recipients)
    return True


# --- Partner postbacks --------------------------------------------------------------------------


def postback_save(
    *,
    affiliate,
    event: str,
    url_template: str,
    enabled: bool = True,
    raw_customer_ids: bool | None = None,
) -> PartnerPostback:
    """Set an affiliate's postback for one event type. `raw_customer_ids` is a manager's decision: None leaves
    it as it is (a partner saving their own template never changes it)."""
    if event not in PostbackEvent.values:
        raise ValidationError({"event": f"One of {', '.join(PostbackEvent.values)}."})
    validate_url_template(url_template)
    postback, _ = PartnerPostback.objects.get_or_create(
        affiliate=affiliate, event=event, defaults={"url_template": url_template}
    )
    postback.url_template = url_template
    if enabled and not postback.enabled:
        postback.consecutive_failures, postback.disabled_at, postback.disabled_reason = 0, None, ""
    postback.enabled = enabled
    if raw_customer_ids is not None:
        postback.raw_customer_ids = raw_customer_ids
    postback.save()
    return postback


def postback_disable(*, postback_id: int, reason: str) -> bool:
    """Disable a failing postback and tell the partner and their manager."""
    changed = PartnerPostback.objects.filter(pk=postback_id, enabled=True).update(
        enabled=False, disabled_at=timezone.now(), disabled_reason=reason[:500]
    )
    if not changed:
        return False
    postback = PartnerPostback.objects.select_related("affiliate__manager").get(pk=postback_id)
    recipients = sorted({postback.affiliate.email, *_manager_emails(postback.affiliate)} - {""})
    message = (
        f"The {postback.get_event_display()} postback of {postback.affiliate.name} was disabled: {reason} "
        f"Template: {postback.url_template}. Fix the tracker or the template and enable it again."
    )
    _notify(kind=NoticeKind.POSTBACK_DISABLED, postback=postback, message=message, recipients=recipients)
    return True


# --- Deliveries ---------------------------------------------------------------------------------


def delivery_redeliver(*, deliveries: QuerySet | list[Delivery]) -> int:
    """Send these deliveries again now, under the same webhook-id (a receiver deduplicates by it). Attempts
    keep counting; the retry schedule starts over from the next failure."""
    from .tasks import enqueue_deliveries

    ids = sorted(d.pk for d in deliveries)
    now = timezone.now()
    with transaction.atomic():
        count = Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now, finished_at=None, claim=None
        )
        transaction.on_commit(lambda: enqueue_deliveries(ids))
    return count


# --- Notices ------------------------------------------------------------------------------------


def _manager_emails(affiliate) -> list[str]:
    emails = list(settings.WEBHOOKS_ALERT_EMAILS)
    if affiliate is not None and affiliate.manager_id and affiliate.manager.email:
        emails.append(affiliate.manager.email)
    if not emails:
        emails = list(
            get_user_model()
            .objects.filter(is_superuser=True, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    return sorted(set(emails))


def _notify(*, kind: str, message: str, recipients: list[str], endpoint=None, postback=None) -> DeliveryNotice:
    notice = DeliveryNotice.objects.create(
        kind=kind, endpoint=endpoint, postback=postback, message=message, recipients=recipients
    )
    if recipients:
        subject = f"[Affiliate Platform] {notice.get_kind_display()}"

        def send():
            try:
                send_mail(subject, message, settings.DEFAULT_FROM_EMAIL, recipients)
            except Exception:
                log.exception("could not mail notice %s", notice.pk)

        transaction.on_commit(send)
    return notice
