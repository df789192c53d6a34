from django.db import models


class SourceKind(models.TextChoices):
    CRM = "crm", "CRM"
    TRADING_PLATFORM = "trading_platform", "Trading platform (MT4/MT5/cTrader)"
    GAMING_BACKEND = "gaming_backend", "Gaming backend"
    PROP_SHOP = "prop_shop", "Prop challenge shop"
    OTHER = "other", "Other"


class Source(models.Model):
    """An operator system that sends events for a brand (a CRM, a trading platform, a gaming backend).
    It has its own source-scope keys and a mapping from its dialect to canonical events."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    brand = models.ForeignKey("affiliates.Brand", on_delete=models.PROTECT, related_name="sources")
    kind = models.CharField(max_length=30, choices=SourceKind.choices, default=SourceKind.OTHER)
    preset = models.CharField(max_length=60, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    test_mode = models.BooleanField(
        default=False, help_text="Staging integration: events are processed and visible, but pay no commission."
    )
    is_active = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=6000)
    derive_ftd = models.BooleanField(
        default=False,
        help_text="The source never flags first deposits: a customer's first qualified deposit becomes the FTD.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MappingVersion(models.Model):
    """One saved mapping of a source (each save is a new version, with who and when)."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="mapping_versions")
    version = models.PositiveIntegerField()
    mapping = models.JSONField()
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey("core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source", "-version"]
        constraints = [models.UniqueConstraint(fields=["source", "version"], name="mappingversion_unique")]

    def __str__(self) -> str:
        return f"{self.source_id} v{self.version}"


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Received (to be processed)"
    PROCESSED = "processed", "Processed"
    DUPLICATE = "duplicate", "Duplicate"
    REJECTED = "rejected", "Rejected"
    IGNORED = "ignored", "Ignored (a known type that the mapping ignores)"


class InboundEvent(models.Model):
    """A raw request (or one element of a batch) exactly as a source sent it, stored before we answer.
    Malformed ones are stored too, rejected with a reason code. Replayable under a newer mapping."""

    # Every postback inserts a row here: only the indexes that reads need (see Meta), no redundant ones.
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="inbound_events", db_index=False)
    received_at = models.DateTimeField(db_index=True)
    channel = models.CharField(max_length=20, default="postback", help_text="postback, api, replay, import")
    method = models.CharField(max_length=10, blank=True)
    content_type = models.CharField(max_length=120, blank=True)
    query_string = models.TextField(blank=True)
    body = models.TextField(blank=True, help_text="The raw body (or this batch element) as text.")
    payload = models.JSONField(null=True, blank=True, help_text="The parsed payload the mapping read.")
    batch_id = models.CharField(max_length=40, blank=True)
    batch_index = models.PositiveIntegerField(null=True, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=InboundStatus.choices, default=InboundStatus.RECEIVED)
    reason_code = models.CharField(max_length=60, blank=True)
    reason_detail = models.TextField(blank=True)
    mapping_version = models.ForeignKey(
        MappingVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_events",
        db_index=False,
    )
    canonical = models.JSONField(null=True, blank=True, help_text="The canonical event the mapping produced.")
    external_id = models.CharField(
        max_length=200, blank=True, help_text="The event id the mapping found (or derived by id_fields)."
    )
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The original.",
        db_index=False,
    )
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["source", "status", "received_at"]),
            models.Index(fields=["status", "received_at"]),
            models.Index(fields=["source", "external_id"]),
            # Partial: written only for the rows they find (rejections by reason; duplicates of an original).
            models.Index(
                fields=["source", "reason_code", "received_at"],
                name="inbound_rejected_reason_idx",
                condition=models.Q(status="rejected"),
            ),
            models.Index(
                fields=["duplicate_of"], name="inbound_duplicate_of_idx", condition=models.Q(duplicate_of__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.source_id} {self.status}"


class FxRate(models.Model):
    """How many units of the base currency one unit of `currency` was worth on `date`."""

    currency = models.CharField(max_length=3)
    date = models.DateField()
    rate = models.DecimalField(max_digits=24, decimal_places=10)
    origin = models.CharField(max_length=40, default="manual", help_text="manual, api, csv import (e.g. ECB)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "date"], name="fxrate_unique_per_day"),
            models.CheckConstraint(name="fxrate_positive", condition=models.Q(rate__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.date}: {self.rate}"
