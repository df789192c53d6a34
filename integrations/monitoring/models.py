"""Integration monitoring: per-source alert thresholds, alerts, reconciliation runs, go-live checks."""

from django.conf import settings
from django.db import models


class AlertKind(models.TextChoices):
    NO_EVENTS = "no_events", "No events"
    VOLUME_DROP = "volume_drop", "Volume drop against baseline"
    VOLUME_SPIKE = "volume_spike", "Volume spike against baseline"
    REJECTED_SHARE = "rejected_share", "Rejected share above threshold"
    SCHEMA_DRIFT = "schema_drift", "Schema drift"
    UNKNOWN_EVENT_TYPE = "unknown_event_type", "Unknown event type"
    PROCESSING_LAG = "processing_lag", "Processing lag"
    DELIVERY_LATENCY = "delivery_latency", "Delivery latency"
    WEBHOOK_DISABLED = "webhook_disabled", "Webhook endpoint disabled"
    UNATTRIBUTED_SHARE = "unattributed_share", "Unattributed customers with hints above baseline"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class AlertRule(models.Model):
    """The alert thresholds a manager tuned for one source. A source without a row uses the field defaults."""

    source = models.OneToOneField("integrations.Source", on_delete=models.CASCADE, related_name="alert_rule")
    enabled = models.BooleanField(default=True, help_text="Off: no alert is evaluated for this source.")
    silence_minutes = models.PositiveIntegerField(
        default=60, help_text="Alert when the source sends nothing at all for this many minutes (0: off)."
    )
    expected_types = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per canonical type, minutes without such an event before alerting, e.g. {"ftd": 240}.',
    )
    window_minutes = models.PositiveIntegerField(
        default=60, help_text="Window for the rejected share, unknown types, schema drift and lag."
    )
    volume_drop_percent = models.PositiveIntegerField(
        default=50, help_text="Alert when last hour's volume is below this percent of its baseline (0: off)."
    )
    volume_spike_percent = models.PositiveIntegerField(
        default=300, help_text="Alert when last hour's volume is above this percent of its baseline (0: off)."
    )
    volume_min_baseline = models.PositiveIntegerField(
        default=20, help_text="Volume is not judged while the baseline hour has fewer events than this."
    )
    baseline_weeks = models.PositiveIntegerField(
        default=4, help_text="Baseline: mean of the same hour of week over this many previous weeks."
    )
    rejected_share_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=5, help_text="Alert above this share of rejected events (%)."
    )
    rejected_min_events = models.PositiveIntegerField(
        default=20, help_text="The rejected share is judged only over at least this many events."
    )
    schema_drift = models.BooleanField(default=True, help_text="Alert on new, vanished or retyped payload fields.")
    unknown_event_type = models.BooleanField(default=True, help_text="Alert on events of an unknown type.")
    processing_lag_seconds = models.PositiveIntegerField(
        default=300, help_text="Alert when events wait longer than this to be processed (0: off)."
    )
    delivery_latency_seconds = models.PositiveIntegerField(
        default=0,
        help_text="Alert when events arrive later than this after they happened (0: off; batch feeds need hours).",
    )
    unattributed_rise_points = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=10,
        help_text="Alert when the share of customers with hints credited to nobody (last 24 h) exceeds its "
        "baseline (the 7 days before) by more than this many percentage points (0: off).",
    )
    unattributed_min_customers = models.PositiveIntegerField(
        default=20, help_text="The unattributed share is judged only over at least this many customers with hints."
    )
    expected_peak_per_hour = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Go-live: the source's own estimate of its busiest hour (else its busiest hour observed).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source"]

    def __str__(self) -> str:
        return f"Alert rules for {self.source}"


class Alert(models.Model):
    """One occurrence of an alert condition, from the evaluation that opened it to the one that saw it clear.
    `key` names the condition; at most one open alert per key is a database fact."""

    key = models.CharField(max_length=255, help_text="source:kind:subject, the condition this alert is about.")
    source = models.ForeignKey(
        "integrations.Source", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    brand = models.ForeignKey("affiliates.Brand", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    subject = models.CharField(max_length=200, blank=True, help_text="Event type, field, endpoint… or empty.")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    title = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(db_index=True)
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(resolved_at__isnull=True), name="alert_open_once_per_condition"
            )
        ]
        indexes = [models.Index(fields=["source", "resolved_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class Granularity(models.TextChoices):
    CUSTOMER = "customer", "Per customer"
    DAY = "day", "Per day"


class ReconciliationRun(models.Model):
    """An operator's own totals for a period (uploaded CSV) compared with what the platform received.
    `lines` holds one row per customer or day with both sides, the differences and the events behind them."""

    source = models.ForeignKey("integrations.Source", on_delete=models.CASCADE, related_name="reconciliations")
    granularity = models.CharField(max_length=10, choices=Granularity.choices)
    period_start = models.DateField()
    period_end = models.DateField(help_text="Inclusive, in the brand's time zone.")
    filename = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3)
    lines = models.JSONField(default=list)
    summary = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.source} {self.period_start}–{self.period_end} ({self.get_granularity_display()})"


class GoLiveRun(models.Model):
    """One run of a source's go-live checklist, performed by the platform against its own endpoints."""

    source = models.ForeignKey("integrations.Source", on_delete=models.CASCADE, related_name="golive_runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    passed = models.BooleanField(default=False)
    results = models.JSONField(default=list, help_text="[{check, title, passed, detail, measured}]")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"Go-live {self.source} {self.started_at:%Y-%m-%d %H:%M} {'passed' if self.passed else 'failed'}"
