import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from .choices import DeliveryStatus, NoticeKind, PostbackEvent


def _message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class OutboxEvent(models.Model):
    """One announcement of a change, written in the same transaction as the change. `dispatched_at` is set
    once its deliveries (one per matching endpoint and postback) exist; the sweep dispatches the rest."""

    type = models.CharField(max_length=60)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    affiliate_id = models.BigIntegerField(null=True, blank=True)
    brand_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(dispatched_at__isnull=True), name="outbox_undispatched"),
            models.Index(fields=["type", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class WebhookEndpoint(models.Model):
    """An operator's (or, with `affiliate`, one partner's) HTTPS receiver and the event types it wants.
    The signing secret is shown once; during a rotation the previous one signs too, until it expires."""

    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text='Event types, or ["*"] for all.')
    affiliate = models.ForeignKey(
        "affiliates.Affiliate",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="Only this partner's events; empty: every event (an operator's system).",
    )
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=500, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url

    @property
    def secret_prefix(self) -> str:
        return self.secret[:10] + "…" if self.secret else ""


class PartnerPostback(models.Model):
    """A partner's postback URL template for one event type, fired to their tracker with macros filled in.
    Disabled after a configurable number of consecutive failed deliveries."""

    affiliate = models.ForeignKey("affiliates.Affiliate", on_delete=models.CASCADE, related_name="postbacks")
    event = models.CharField(max_length=20, choices=PostbackEvent.choices)
    url_template = models.CharField(
        max_length=2000,
        help_text="Macros: {click_id} {sub1}…{sub5} {event} {payout} {currency} {event_id} {customer_id}.",
    )
    enabled = models.BooleanField(default=True)
    raw_customer_ids = models.BooleanField(
        default=False, help_text="Send the operator's customer id as is (managers only); otherwise a hash of it."
    )
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=500, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["affiliate", "event"]
        constraints = [models.UniqueConstraint(fields=["affiliate", "event"], name="postback_unique_per_event")]

    def __str__(self) -> str:
        return f"{self.affiliate_id} {self.event}"


class Delivery(models.Model):
    """One outbox event to one target (a webhook endpoint or a partner postback), delivered at least once
    under a stable `webhook-id`. `next_attempt_at` is when it is due; a claimed delivery holds a lease."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    postback = models.ForeignKey(
        PartnerPostback, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    message_id = models.CharField(max_length=40, default=_message_id, unique=True, editable=False)
    url = models.CharField(max_length=2000, blank=True, help_text="The postback URL with its macros filled in.")
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim = models.UUIDField(null=True, blank=True, editable=False)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_once_per_endpoint"),
            models.UniqueConstraint(fields=["event", "postback"], name="delivery_once_per_postback"),
            models.CheckConstraint(
                name="delivery_one_target",
                condition=Q(endpoint__isnull=False, postback__isnull=True)
                | Q(endpoint__isnull=True, postback__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_due"),
            models.Index(fields=["endpoint", "-created_at"]),
            models.Index(fields=["postback", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP attempt of a delivery: what was sent, what came back (code, body excerpt), how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    request_method = models.CharField(max_length=6)
    request_url = models.CharField(max_length=2000)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The first bytes of the answer.")
    error = models.CharField(max_length=500, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    success = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_unique")]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number} → {self.response_status or self.error}"


class DeliveryNotice(models.Model):
    """An alert raised by delivery: an endpoint or postback was disabled. Managers see these in the admin
    and get them by e-mail."""

    kind = models.CharField(max_length=30, choices=NoticeKind.choices)
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    postback = models.ForeignKey(PartnerPostback, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    message = models.TextField()
    recipients = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M}"
