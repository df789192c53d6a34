from django.db import models

# Event types the platform announces. Endpoints subscribe to these (or to "*" for all).
EVENT_TYPES = (
    "affiliate.created",
    "affiliate.status_changed",
    "affiliate.payment_details_changed",
    "deal.changed",
    "deal.assigned",
    "customer.attributed",
    "conversion.created",
    "commission.created",
    "commission.approved",
    "commission.reversed",
    "payout.approved",
    "payout.paid",
    "alert.raised",
    "alert.resolved",
)
TEST_EVENT_TYPE = "webhook.test"
ALL_EVENTS = "*"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled (target disabled)"


class PostbackEvent(models.TextChoices):
    REGISTRATION = "registration", "Registration"
    FTD = "ftd", "First-time deposit"
    QUALIFIED_CPA = "qualified_cpa", "Qualified CPA"
    COMMISSION = "commission", "Commission"


class NoticeKind(models.TextChoices):
    ENDPOINT_DISABLED = "endpoint_disabled", "Webhook endpoint disabled"
    POSTBACK_DISABLED = "postback_disabled", "Partner postback disabled"
