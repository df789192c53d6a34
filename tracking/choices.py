from django.db import models


class EventType(models.TextChoices):
    REGISTRATION = "registration"
    FTD = "ftd"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    BET = "bet"
    REVENUE = "revenue"
    TRADE = "trade"
    CHALLENGE_PURCHASE = "challenge_purchase"
    CHALLENGE_PASS = "challenge_pass"
    FUNDED_ACTIVATION = "funded_activation"
    RESET_FEE = "reset_fee"
    REFUND = "refund"
    CHARGEBACK = "chargeback"
    STATUS_UPDATE = "status_update"


# Types that change an earlier event (found by `ref_event_id`) instead of standing alone.
REFERRING_TYPES = {EventType.STATUS_UPDATE, EventType.REFUND, EventType.CHARGEBACK}
# Types that carry money and so need an event id (CONTRACT: "required for money events").
MONEY_TYPES = {
    EventType.FTD, EventType.DEPOSIT, EventType.WITHDRAWAL, EventType.BET, EventType.REVENUE, EventType.TRADE,
    EventType.CHALLENGE_PURCHASE, EventType.RESET_FEE, EventType.REFUND, EventType.CHARGEBACK,
}  # fmt: skip


class EventStatus(models.TextChoices):
    PENDING = "pending"
    QUALIFIED = "qualified"
    REJECTED = "rejected"


class AttributionMethod(models.TextChoices):
    CLICK_ID = "click_id", "Click id"
    TRACKING_TOKEN = "tracking_token", "Tracking link token"
    AFFILIATE_ID = "affiliate_id", "Affiliate id"
    PROMO_CODE = "promo_code", "Promo code"
    MANUAL = "manual", "Reassigned by a manager"
    NONE = "none", "Not attributed"


class ClickFlag(models.TextChoices):
    NONE = "", "—"
    DUPLICATE = "duplicate", "Duplicate (same IP and link within the window)"
    BOT = "bot", "Bot user agent"
    AFFILIATE_INACTIVE = "affiliate_inactive", "Affiliate not active"


class HintKind(models.TextChoices):
    """What an attribution hint was: the four that name an affiliate, and sub ids (which never do alone)."""

    CLICK_ID = "click_id", "Click id"
    TRACKING_TOKEN = "tracking_token", "Tracking link token"
    AFFILIATE_ID = "affiliate_id", "Affiliate id"
    PROMO_CODE = "promo_code", "Promo code"
    SUB_IDS = "sub_ids", "Sub ids"


class HintReason(models.TextChoices):
    """The outcome of one attribution hint: a stable code (documented in docs/integration-guide.md)."""

    ATTRIBUTED = "attributed", "Attributed the customer"
    AFFILIATE_INACTIVE = "affiliate_inactive", "Attributed to an affiliate that is not active"
    CLICK_UNKNOWN = "click_unknown", "Unknown click id"
    CLICK_AFTER_EVENT = "click_after_event", "Click made after the event"
    CLICK_OUTSIDE_WINDOW = "click_outside_window", "Click older than the brand's attribution window"
    LINK_UNKNOWN = "link_unknown", "Unknown tracking token"
    LINK_INACTIVE = "link_inactive", "Tracking link disabled"
    AFFILIATE_UNKNOWN = "affiliate_unknown", "Unknown affiliate id"
    PROMO_UNKNOWN = "promo_unknown", "Unknown promo code"
    PROMO_EXPIRED = "promo_expired", "Promo code deactivated"
    OTHER_BRAND = "other_brand", "A hint for another brand"
    SUB_IDS_ONLY = "sub_ids_only", "Only sub ids, which name no affiliate"


# Reasons a hint failed (the misses): everything but the two outcomes of a hint that attributed.
MISS_REASONS = [r for r in HintReason if r not in (HintReason.ATTRIBUTED, HintReason.AFFILIATE_INACTIVE)]
MISS_REASON_CHOICES = [(r.value, r.label) for r in MISS_REASONS]
