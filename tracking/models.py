"""Tracking: links and clicks, the referred customers and their attribution, canonical events.

Large tables (Click, ConversionEvent) are append-mostly and indexed for time-range reads; in
PostgreSQL they are candidates for monthly partitioning (DESIGN.md section 8).
"""

from django.conf import settings
from django.db import models
from django.db.models.fields.json import KeyTextTransform, KeyTransform

from core.currencies import CURRENCY_CHOICES

from .choices import AttributionMethod, ClickFlag, EventStatus, EventType, HintKind, HintReason

SUB_ID_LENGTH = 255


class TrackingLink(models.Model):
    """A link an affiliate places: `/t/<token>` records a click and redirects to `landing_url`."""

    token = models.CharField(max_length=32, unique=True, editable=False)
    affiliate = models.ForeignKey("affiliates.Affiliate", on_delete=models.PROTECT, related_name="tracking_links")
    brand = models.ForeignKey("affiliates.Brand", on_delete=models.PROTECT, related_name="tracking_links")
    name = models.CharField(max_length=120, blank=True)
    landing_url = models.URLField(max_length=2000)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name or self.token

    @property
    def url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/t/{self.token}"


class PromoCode(models.Model):
    """A promo code owned by an affiliate at a brand; a customer who uses it is attributed to them."""

    brand = models.ForeignKey("affiliates.Brand", on_delete=models.PROTECT, related_name="promo_codes")
    affiliate = models.ForeignKey("affiliates.Affiliate", on_delete=models.PROTECT, related_name="promo_codes")
    code = models.CharField(max_length=60, help_text="Matched case-insensitively.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(models.functions.Upper("code"), "brand", name="promocode_unique_per_brand")
        ]

    def __str__(self) -> str:
        return self.code


class Click(models.Model):
    """One visit through a tracking link. Flagged clicks (duplicate, bot, inactive affiliate) are kept
    but are not billable."""

    click_id = models.CharField(max_length=40, unique=True)
    # The click log is written once per redirect, the hottest path. Its foreign keys are not database
    # constraints: each would cost a trigger lookup per INSERT and a shared lock on the same hot link,
    # affiliate and brand rows across all concurrent clicks. The ids come from the link just read, and
    # Django's PROTECT still refuses deleting a link, affiliate or brand that has clicks. The plain
    # link/affiliate indexes are left out too: the composite indexes below begin with those columns; a
    # brand's clicks are read by time range (created_at), so brand gets no index of its own to maintain.
    link = models.ForeignKey(
        TrackingLink, on_delete=models.PROTECT, related_name="clicks", db_constraint=False, db_index=False
    )
    affiliate = models.ForeignKey(
        "affiliates.Affiliate", on_delete=models.PROTECT, related_name="clicks", db_constraint=False, db_index=False
    )
    brand = models.ForeignKey(
        "affiliates.Brand", on_delete=models.PROTECT, related_name="clicks", db_constraint=False, db_index=False
    )
    sub1 = models.CharField(max_length=SUB_ID_LENGTH, blank=True)
    sub2 = models.CharField(max_length=SUB_ID_LENGTH, blank=True)
    sub3 = models.CharField(max_length=SUB_ID_LENGTH, blank=True)
    sub4 = models.CharField(max_length=SUB_ID_LENGTH, blank=True)
    sub5 = models.CharField(max_length=SUB_ID_LENGTH, blank=True)
    country = models.CharField(max_length=2, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    referrer = models.CharField(max_length=1000, blank=True)
    flag = models.CharField(max_length=20, choices=ClickFlag.choices, blank=True, default=ClickFlag.NONE)
    is_billable = models.BooleanField(default=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["affiliate", "created_at"]),
            models.Index(fields=["link", "ip", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.click_id


class Customer(models.Model):
    """A referred player or trader, known by the operator's id per brand. Keeps its first attribution;
    a later conflicting hint is recorded as an AttributionConflict, not applied."""

    brand = models.ForeignKey("affiliates.Brand", on_delete=models.PROTECT, related_name="customers")
    external_id = models.CharField(max_length=120)
    affiliate = models.ForeignKey(
        "affiliates.Affiliate", null=True, blank=True, on_delete=models.PROTECT, related_name="customers"
    )
    attribution_method = models.CharField(
        max_length=20, choices=AttributionMethod.choices, default=AttributionMethod.NONE
    )
    click = models.ForeignKey(Click, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers")
    link = models.ForeignKey(TrackingLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    promo_code = models.ForeignKey(PromoCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sub1 = models.CharField(max_length=SUB_ID_LENGTH, blank=True)
    sub2 = models.CharField(max_length=SUB_ID_LENGTH, blank=True)
    sub3 = models.CharField(max_length=SUB_ID_LENGTH, blank=True)
    sub4 = models.CharField(max_length=SUB_ID_LENGTH, blank=True)
    sub5 = models.CharField(max_length=SUB_ID_LENGTH, blank=True)
    country = models.CharField(max_length=2, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    first_event_at = models.DateTimeField(null=True, blank=True)
    attributed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["brand", "external_id"], name="customer_unique_per_brand")]
        indexes = [models.Index(fields=["affiliate", "registered_at"])]

    def __str__(self) -> str:
        return f"{self.external_id} @ {self.brand_id}"


class AttributionConflict(models.Model):
    """A later attribution hint that pointed elsewhere than the customer's first attribution.
    Recorded for the manager, never applied by itself."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="attribution_conflicts")
    method = models.CharField(max_length=20, choices=AttributionMethod.choices)
    value = models.CharField(max_length=255)
    claimed_affiliate = models.ForeignKey(
        "affiliates.Affiliate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event = models.ForeignKey(
        "tracking.ConversionEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["customer", "method", "value"], name="attributionconflict_once")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.method}={self.value}"


class AttributionMiss(models.Model):
    """An attribution hint that did not attribute its customer, and why: a stable reason code and a sentence.

    Written while the customer is unattributed, in one bulk INSERT per processing chunk and only for hints that
    fail (a customer attributed at once costs nothing here); once per (customer, hint, value), like conflicts.
    `affiliate` is whom the hint pointed at (the click's, link's or promo code's owner), when it names anyone:
    that partner sees the miss in the partner API.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="attribution_misses")
    hint = models.CharField(max_length=20, choices=HintKind.choices)
    value = models.CharField(max_length=255)
    reason = models.CharField(max_length=30, choices=HintReason.choices)
    message = models.CharField(max_length=500)
    affiliate = models.ForeignKey(
        "affiliates.Affiliate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    click = models.ForeignKey(Click, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    delta_seconds = models.BigIntegerField(
        null=True, blank=True, help_text="By how long the click missed (after the event, or beyond the window)."
    )
    occurred_at = models.DateTimeField(help_text="When the event that carried the hint happened.")
    source = models.ForeignKey(
        "integrations.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    inbound = models.ForeignKey(
        "integrations.InboundEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        help_text="The inbound event that carried the hint (its canonical event shares it).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer", "pk"]
        verbose_name_plural = "attribution misses"
        constraints = [
            models.UniqueConstraint(fields=["customer", "hint", "value"], name="attributionmiss_once"),
        ]
        indexes = [
            models.Index(fields=["affiliate", "created_at"], name="attributionmiss_partner_idx"),
            models.Index(fields=["source", "created_at"], name="attributionmiss_source_idx"),
            models.Index(fields=["inbound"], name="attributionmiss_inbound_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.hint}={self.value} ({self.reason})"


class CustomerReassignment(models.Model):
    """A manager moved a customer to another affiliate: who, when, why (the audit)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="reassignments")
    from_affiliate = models.ForeignKey(
        "affiliates.Affiliate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_affiliate = models.ForeignKey("affiliates.Affiliate", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField(auto_now_add=True)
    previous = models.JSONField(
        default=dict, blank=True, help_text="The attribution before the change: method, click id, link, sub ids."
    )

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.from_affiliate_id} → {self.to_affiliate_id}"


class ConversionEvent(models.Model):
    """A canonical event, mapped from an InboundEvent: one per (source, external id), ever."""

    # Foreign keys without an index of their own are served by a composite index that leads with them (see
    # Meta): every index is written on every insert, and events are the table that grows fastest.
    # Source and brand are not database constraints, as in the click log: each would cost a trigger lookup
    # per INSERT and a shared lock on the same source and brand rows across every concurrent worker. Their
    # ids come from the source the event arrived on, and PROTECT still refuses deleting either while it has
    # events. Customer, affiliate and inbound event stay constrained: those are the event's own facts.
    source = models.ForeignKey(
        "integrations.Source", on_delete=models.PROTECT, related_name="events", db_index=False, db_constraint=False
    )  # (source, external_id)
    external_id = models.CharField(max_length=200, help_text="The source's event id (or one derived by id_fields).")
    inbound = models.ForeignKey(
        "integrations.InboundEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions"
    )
    brand = models.ForeignKey(
        "affiliates.Brand", on_delete=models.PROTECT, related_name="events", db_index=False, db_constraint=False
    )  # (brand, type, occurred_at)
    type = models.CharField(max_length=30, choices=EventType.choices)
    status = models.CharField(max_length=20, choices=EventStatus.choices, default=EventStatus.QUALIFIED)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="events", db_index=False
    )  # (customer, type, occurred_at)
    affiliate = models.ForeignKey(
        "affiliates.Affiliate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        help_text="The customer's affiliate when the event was attributed.",
        db_index=False,
    )  # (affiliate, occurred_at)
    amount = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, blank=True)
    amount_base = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    fx_rate = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    fx_date = models.DateField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    ref_external_id = models.CharField(max_length=200, blank=True, help_text="The event this one changes.")
    ref_event = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="referring_events", db_index=False
    )  # partial index: only status updates, refunds and chargebacks have one
    applied_at = models.DateTimeField(
        null=True, blank=True, help_text="For status updates, refunds, chargebacks: when applied to ref_event."
    )
    country = models.CharField(max_length=2, blank=True)
    hints = models.JSONField(default=dict, blank=True, help_text="Attribution hints as received.")
    data = models.JSONField(default=dict, blank=True, help_text="Vertical data: lots, instrument, wagered, …")
    is_test = models.BooleanField(default=False, help_text="From a source in test mode: never payable.")

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="conversionevent_unique_per_source")
        ]
        indexes = [
            models.Index(fields=["customer", "type", "occurred_at"]),
            models.Index(fields=["affiliate", "occurred_at"]),
            models.Index(fields=["brand", "type", "occurred_at"]),
            # Only referring events name another event: the others (nearly all) stay out of these two.
            models.Index(
                fields=["source", "ref_external_id"],
                name="event_ref_external_idx",
                condition=~models.Q(ref_external_id=""),
            ),
            models.Index(fields=["ref_event"], name="event_ref_event_idx", condition=models.Q(ref_event__isnull=False)),
            # Sources that refer to orders rather than events (prop shops): a refund finds its purchase by order
            # id, and a purchase the refunds waiting for it. Only events that carry an order id are in these.
            models.Index(
                models.F("source"),
                KeyTransform("order_id", "data"),
                name="event_order_idx",
                condition=models.Q(data__has_key="order_id"),
            ),
            models.Index(
                models.F("source"),
                KeyTextTransform("ref_order_id", "data"),
                name="event_waiting_ref_order_idx",
                condition=models.Q(data__has_key="ref_order_id", ref_event__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.external_id}"
