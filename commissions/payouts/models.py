"""Payout statements: what an affiliate is paid for a period, built from approved ledger entries.

A statement holds its entries through lines; an entry sits in at most one live (not cancelled) statement,
which a partial unique constraint makes a fact. Its total is the entries converted into the affiliate's payout
currency, plus the balance carried from the previous statement, plus manual adjustments. What is under the
affiliate's threshold (or negative, where the deal carries negatives) is carried into the next statement.
"""

from django.conf import settings
from django.db import models

from core.currencies import CURRENCY_CHOICES

from .choices import LIVE_STATUSES, StatementStatus

MONEY = {"max_digits": 20, "decimal_places": 3}


class PayoutStatement(models.Model):
    """One affiliate's statement for one period (and one brand, or all brands): the approved entries, the carry
    in and out, the adjustments, the amount to pay in the payout currency, and how it was paid."""

    affiliate = models.ForeignKey("affiliates.Affiliate", on_delete=models.PROTECT, related_name="payout_statements")
    brand = models.ForeignKey(
        "affiliates.Brand",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payout_statements",
        help_text="Empty: a statement across all brands.",
    )
    scope = models.CharField(max_length=40, editable=False, help_text="brand:<id> or all: one statement per scope.")
    frequency = models.CharField(max_length=20)
    period = models.CharField(max_length=30, help_text="2026-11 (month), 2026-W45 (ISO week) or a custom range.")
    period_start = models.DateField(help_text="First day of the period (brand time zone).")
    period_end = models.DateField(help_text="Last day of the period, inclusive.")
    status = models.CharField(max_length=20, choices=StatementStatus.choices, default=StatementStatus.DRAFT)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, help_text="The affiliate's payout currency.")
    entries_total = models.DecimalField(default=0, **MONEY, help_text="The entries, in the payout currency.")
    carried_in = models.DecimalField(default=0, **MONEY, help_text="Balance carried from the previous statement.")
    adjustments_total = models.DecimalField(default=0, **MONEY)
    total = models.DecimalField(default=0, **MONEY, help_text="Entries + carried in + adjustments.")
    amount = models.DecimalField(
        default=0, **MONEY, help_text="What is paid: the total, when it reaches the threshold."
    )
    carry_out = models.DecimalField(default=0, **MONEY, help_text="Carried into the next statement.")
    written_off = models.DecimalField(
        default=0, **MONEY, help_text="A negative total the deals do not carry over (reset to zero)."
    )
    threshold = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    negative_carryover = models.BooleanField(default=False, help_text="Whether a negative total carries over.")
    carried_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="carried_into"
    )
    fx_date = models.DateField(null=True, blank=True, help_text="Date of the FX rates used (period end).")
    fx_rates = models.JSONField(
        default=list, blank=True, help_text="Per entry currency: amount, rate to the payout currency, rate date."
    )
    explanation = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True, help_text="Value date of the payment.")
    payment_reference = models.CharField(max_length=200, blank=True)
    payment_method = models.CharField(max_length=20, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-period_start", "affiliate_id", "-pk"]
        permissions = [
            ("approve_payout", "Can approve payout statements"),
            ("mark_paid_payout", "Can mark payout statements paid"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["affiliate", "scope", "period"],
                condition=models.Q(status__in=LIVE_STATUSES),
                name="payout_one_live_statement_per_period",
            ),
            models.UniqueConstraint(
                fields=["carried_from"],
                condition=models.Q(status__in=LIVE_STATUSES),
                name="payout_carry_taken_once",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "period"]),
            models.Index(fields=["affiliate", "scope", "period_start"]),
        ]

    def __str__(self) -> str:
        where = self.brand.slug if self.brand_id and self.brand else "all brands"
        return f"Statement #{self.pk} {self.period} ({where})"


class StatementLine(models.Model):
    """One ledger entry on a statement, in the entry's own currency. `live` follows the statement (false once
    it is cancelled), so the unique constraint holds an entry in one live statement only."""

    statement = models.ForeignKey(PayoutStatement, on_delete=models.CASCADE, related_name="lines")
    # No index of its own: the partial unique index (entry, where live) answers "is this entry on a statement",
    # and ledger entries are never deleted. One index less to write per line (a month writes a million).
    entry = models.ForeignKey(
        "commissions.CommissionEntry", on_delete=models.PROTECT, related_name="payout_lines", db_index=False
    )
    kind = models.CharField(max_length=20)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    live = models.BooleanField(default=True)

    class Meta:
        ordering = ["statement", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["entry"], condition=models.Q(live=True), name="payout_entry_in_one_live_statement"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} (entry {self.entry_id})"


class PayoutAdjustment(models.Model):
    """A manual correction on a draft statement, in its payout currency, with the reason a person gave."""

    statement = models.ForeignKey(PayoutStatement, on_delete=models.CASCADE, related_name="adjustments")
    amount = models.DecimalField(**MONEY)
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["statement", "pk"]

    def __str__(self) -> str:
        return f"{self.amount} on statement {self.statement_id}: {self.reason}"


class InvoiceSequence(models.Model):
    """The last invoice number issued in one sequence: a brand's (its slug) or the across-brands one."""

    key = models.CharField(max_length=80, unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.last}"


class Invoice(models.Model):
    """The invoice of an approved statement for an affiliate who must send one: net, VAT at the affiliate's rate,
    gross, under a number from its brand's sequence. A cancelled statement voids it; the number is never reused."""

    statement = models.OneToOneField(PayoutStatement, on_delete=models.PROTECT, related_name="invoice")
    number = models.CharField(max_length=40, unique=True)
    sequence_key = models.CharField(max_length=80)
    sequence = models.PositiveIntegerField()
    issued_on = models.DateField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    net = models.DecimalField(**MONEY)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2)
    vat_amount = models.DecimalField(**MONEY)
    gross = models.DecimalField(**MONEY)
    vat_number = models.CharField(max_length=40, blank=True)
    billed_by = models.CharField(max_length=250, help_text="The affiliate's name and company, as on the invoice.")
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-issued_on", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["sequence_key", "sequence"], name="invoice_number_once_per_sequence")
        ]

    def __str__(self) -> str:
        return self.number
