from django.db import models


class EntryKind(models.TextChoices):
    CPA = "cpa", "CPA"
    REVSHARE = "revshare", "RevShare"
    CPL = "cpl", "CPL"
    REBATE = "rebate", "Forex rebate"
    PROP = "prop", "Prop"
    SUBAFFILIATE = "subaffiliate", "Sub-affiliate override"
    ADJUSTMENT = "adjustment", "Adjustment"
    REVERSAL = "reversal", "Reversal"


class EntryStatus(models.TextChoices):
    PENDING = "pending", "Pending (waiting for its events to qualify)"
    ON_HOLD = "on_hold", "On hold (until hold_until)"
    APPROVED = "approved", "Approved"
    PAID = "paid", "Paid"
    REJECTED = "rejected", "Rejected"
    REVERSED = "reversed", "Reversed"


# Statuses a manager may still decide on (approve or reject early).
OPEN_STATUSES = (EntryStatus.PENDING, EntryStatus.ON_HOLD)
# Rejected entries never count: the balance is the sum of every other entry.
COUNTED_STATUSES = (
    EntryStatus.PENDING, EntryStatus.ON_HOLD, EntryStatus.APPROVED, EntryStatus.PAID, EntryStatus.REVERSED,
)  # fmt: skip
