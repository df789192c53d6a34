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
