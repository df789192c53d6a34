"""The commission ledger and the per-brand revenue formula.

A CommissionEntry is immutable once written: only its workflow status moves (by compare-and-swap
updates in commissions.ledger). Amounts are corrected by new entries (reversal, adjustment), never
by editing. Every entry belongs to a *slot*: the one thing it pays for (a customer's CPA under a
deal, one trade's rebate, an affiliate's RevShare month, ...). Entries of a slot are numbered by
`seq`, and (slot, seq) is unique, so two workers computing the same slot book it once.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from core.currencies import CURRENCY_CHOICES

from .choices import EntryKind, EntryStatus


class CommissionEntry(models.Model):
    """One immutable ledger row: what an affiliate earned (or gives back) for one slot, with the deal
    version, the events it came from and a sentence explaining the amount."""

    slot = models.CharField(max_length=200, help_text="What this pays for, e.g. cpa:<affiliate>:<customer>:<deal>.")
    seq = models.PositiveIntegerField(default=0, help_text="0 for the first entry of the slot, then 1, 2, …")
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    status = models.CharField(max_length=20, choices=EntryStatus.choices, default=EntryStatus.PENDING)
    affiliate = models.ForeignKey("affiliates.Affiliate", on_delete=models.PROTECT, related_name="commissions")
    brand = models.ForeignKey("affiliates.Brand", on_delete=models.PROTECT, related_name="commissions")
    customer = models.ForeignKey(
        "tracking.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="commissions"
    )
    deal = models.ForeignKey("affiliates.Deal", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    deal_version = models.ForeignKey(
        "affiliates.DealVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_affiliate = models.ForeignKey(
        "affiliates.Affiliate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For sub-affiliate overrides: the child whose commission this is a percent of.",
    )
    amount = models.DecimalField(max_digits=20, decimal_places=3, help_text="Quantized to the currency's minor unit.")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    period = models.CharField(max_length=7, help_text="Month (brand time zone) of the activity, YYYY-MM.")
    occurred_at = models.DateTimeField(help_text="When the activity that earned it happened (qualification time).")
    hold_until = models.DateTimeField(null=True, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="Ids of the canonical events it came from.")
    explanation = models.TextField()
    status_reason = models.CharField(max_length=500, blank=True)
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals")
    batch = models.CharField(max_length=60, blank=True, help_text="Recalculation that booked this adjustment.")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(null=True, blank=True)
    review_flag = models.BooleanField(
        default=False,
        help_text="Waiting for a person: the hold release does not approve it until it is decided or cleared.",
    )
    review_reason = models.CharField(max_length=500, blank=True, help_text="Why the entry was flagged for review.")
    # No index and no database constraint: adding either would scan the whole ledger under a lock at
    # migrate time, for a column that is only ever read with its row (SET_NULL is applied by Django).
    review_cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    review_cleared_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True, help_text="What the reviewer found.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "commission entries"
        permissions = [("decide_commissionentry", "Can approve or reject commission entries and clear review flags")]
        constraints = [
            models.UniqueConstraint(fields=["slot", "seq"], name="commission_once_per_slot_seq"),
            models.UniqueConstraint(fields=["reverses"], name="commission_reversed_once"),
            models.UniqueConstraint(
                fields=["kind", "affiliate", "customer", "deal"],
                condition=models.Q(kind="cpa"),
                name="commission_cpa_once_per_customer_deal",
            ),
        ]
        indexes = [
            models.Index(fields=["affiliate", "status"]),
            models.Index(fields=["status", "hold_until"]),
            models.Index(fields=["customer"]),
            models.Index(fields=["affiliate", "brand", "period", "kind"]),
            # The review queue and the hold release read the few flagged rows of a huge table.
            models.Index(fields=["status"], condition=models.Q(review_flag=True), name="commission_flagged_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} → {self.affiliate_id}"

    def save(self, *args, **kwargs):
        # The ledger is append-only: a written row changes only its status, by queryset update.
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Commission entries are immutable; book a reversal or an adjustment instead.")
        super().save(*args, **kwargs)


class BrandRevenueRule(models.Model):
    """How a brand's revenue is computed from components when its deals use the net_revenue basis:
    GGR x tax factor - bonuses - payment fees (components in the event's `data`)."""

    brand = models.OneToOneField("affiliates.Brand", on_delete=models.CASCADE, related_name="revenue_rule")
    tax_factor = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="Share of GGR left after gaming tax, e.g. 0.82 for an 18% tax.",
    )
    deduct_bonuses = models.BooleanField(default=True, help_text="Subtract data.bonus.")
    deduct_payment_fees = models.BooleanField(default=True, help_text="Subtract data.payment_fees.")
    note = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Revenue rule of {self.brand_id}"


class ApprovalQueueEntry(CommissionEntry):
    """The approval queue: the pending and on-hold entries of the ledger, waiting for a decision."""

    class Meta:
        proxy = True
        verbose_name = "approval queue entry"
        verbose_name_plural = "approval queue"


class ReviewPolicy(models.Model):
    """When a brand's new commission entries are flagged for a person to review before they are paid:
    an amount over a threshold, or a sudden rise against the affiliate's own trailing history."""

    brand = models.OneToOneField("affiliates.Brand", on_delete=models.CASCADE, related_name="review_policy")
    enabled = models.BooleanField(default=True)
    amount_over = models.DecimalField(
        max_digits=18, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))],
        help_text="Flag an entry whose amount is over this (in the entry's currency). Empty: no amount threshold.",
    )  # fmt: skip
    entry_rise_factor = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("1"))],
        help_text="Flag an entry more than this many times the affiliate's average entry over the history window.",
    )  # fmt: skip
    day_rise_factor = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("1"))],
        help_text="Flag an entry that takes the affiliate's day total over this many times its average day.",
    )  # fmt: skip
    history_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(7), MaxValueValidator(366)],
        help_text="The trailing window the averages are taken over (days before the entry's day).",
    )  # fmt: skip
    min_history_entries = models.PositiveIntegerField(
        default=10, help_text="Rise factors apply only to affiliates with at least this many entries in the window."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "review policies"

    def __str__(self) -> str:
        return f"Review policy of {self.brand_id}"


class AffiliateDayTotal(models.Model):
    """What the ledger booked for an affiliate on one day (the brand's time zone), per brand and currency:
    positive, non-reversal entries as written. The history review flags compare a new entry with, kept
    by the booking itself (one upsert per batch) so that reading it never scans the ledger."""

    affiliate = models.ForeignKey("affiliates.Affiliate", on_delete=models.CASCADE, related_name="+")
    brand = models.ForeignKey("affiliates.Brand", on_delete=models.CASCADE, related_name="+")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    day = models.DateField()
    total = models.DecimalField(max_digits=20, decimal_places=3, default=Decimal("0"))
    entries = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["affiliate", "brand", "currency", "day"], name="affiliate_day_total_once")
        ]

    def __str__(self) -> str:
        return f"{self.affiliate_id} {self.day} {self.total} {self.currency}"
