import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_countries.fields import CountryField

from core.currencies import CURRENCY_CHOICES
from core.money import validate_non_negative

from .choices import (
    AffiliateStatus,
    DealKind,
    LotRounding,
    PaymentMethod,
    PayoutFrequency,
    PayoutScope,
    RevenueBasis,
    TierApplication,
    Vertical,
)

TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone.", code="invalid_timezone")


class Brand(models.Model):
    """An operator's brand (a casino, a sportsbook, a broker entity, a prop firm). Deals, sources and
    reports are per brand; its time zone sets period boundaries."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    vertical = models.CharField(max_length=20, choices=Vertical.choices, default=Vertical.CASINO)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="EUR")
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    click_param = models.CharField(
        max_length=40, default="click_id", help_text="Query parameter that carries our click id to the landing page."
    )
    attribution_window_days = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="A click attributes a customer whose first event comes within this many days.",
    )
    website = models.URLField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Affiliate(models.Model):
    """A partner who refers customers. Moves pending → active → suspended/rejected, by a manager."""

    name = models.CharField(max_length=120)
    email = models.EmailField(unique=True)
    company = models.CharField(max_length=120, blank=True)
    website = models.URLField(blank=True)
    country = CountryField(blank=True)
    status = models.CharField(max_length=20, choices=AffiliateStatus.choices, default=AffiliateStatus.PENDING)
    status_reason = models.CharField(max_length=500, blank=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_affiliates",
        limit_choices_to={"is_staff": True},
        help_text="The account manager.",
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sub_affiliates",
        help_text="The referring affiliate in the sub-affiliate programme.",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="affiliate",
        help_text="The partner's login to the portal.",
    )
    payment_method = models.CharField(max_length=20, choices=PaymentMethod.choices, blank=True)
    payment_details = models.JSONField(default=dict, blank=True, help_text="E.g. IBAN, SWIFT, wallet address.")
    payout_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="EUR")
    payout_threshold = models.DecimalField(
        max_digits=18, decimal_places=2, default=100, validators=[validate_non_negative]
    )
    payout_frequency = models.CharField(
        max_length=20,
        choices=PayoutFrequency.choices,
        default=PayoutFrequency.MONTHLY,
        help_text="How often payout statements are drawn up; custom periods are generated on demand only.",
    )
    payout_scope = models.CharField(
        max_length=20,
        choices=PayoutScope.choices,
        default=PayoutScope.PER_BRAND,
        help_text="One statement per brand, or one across all brands.",
    )
    vat_number = models.CharField(max_length=40, blank=True, help_text="The affiliate's VAT number, on invoices.")
    vat_rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="VAT percent added on the affiliate's invoices (0 for reverse charge or none).",
    )
    invoice_required = models.BooleanField(
        default=False, help_text="An approved statement gets an invoice numbered in the brand's sequence."
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    def clean(self):
        if self.parent_id and self.pk:
            node, seen = self.parent, set()
            while node is not None:
                if node.pk == self.pk:
                    raise ValidationError({"parent": "An affiliate cannot be its own (indirect) parent."})
                if node.pk in seen:
                    break
                seen.add(node.pk)
                node = node.parent
        if not isinstance(self.payment_details, dict):
            raise ValidationError({"payment_details": "Must be an object of named fields."})


class AffiliateStatusChange(models.Model):
    """One status change of an affiliate: who, when, why. The audit trail of the workflow."""

    affiliate = models.ForeignKey(Affiliate, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=AffiliateStatus.choices)
    to_status = models.CharField(max_length=20, choices=AffiliateStatus.choices)
    reason = models.CharField(max_length=500, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.affiliate_id}: {self.from_status} → {self.to_status}"


class Deal(models.Model):
    """A commission plan of a brand. Its terms live in immutable DealVersions; the newest is current."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="deals")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=DealKind.choices)
    current_version = models.PositiveIntegerField(default=0, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["brand__name", "name"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="deal_unique_name_per_brand")]

    def __str__(self) -> str:
        return f"{self.name} v{self.current_version}"

    @property
    def current(self) -> "DealVersion | None":
        return self.versions.filter(version=self.current_version).first()


class DealVersion(models.Model):
    """One immutable set of a deal's terms, in force from `effective_from` until the next version.
    Ledger entries record the version they were computed with."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    effective_from = models.DateField(help_text="First day (brand time zone) these terms apply to activity.")
    change_note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=DealKind.choices)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    hold_days = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(365)])
    countries = models.JSONField(default=list, blank=True, help_text="ISO codes; empty means all countries.")
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    # CPA
    cpa_amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    country_amounts = models.JSONField(default=dict, blank=True, help_text='CPA per country: {"DE": "250.00"}.')
    qualification = models.JSONField(default=dict, blank=True)
    cpa_daily_cap = models.PositiveIntegerField(null=True, blank=True)
    cpa_monthly_cap = models.PositiveIntegerField(null=True, blank=True)
    # RevShare
    revshare_percent = models.DecimalField(max_digits=7, decimal_places=4, default=0)
    revenue_basis = models.CharField(max_length=20, choices=RevenueBasis.choices, default=RevenueBasis.NGR)
    negative_carryover = models.BooleanField(default=False)
    tiers = models.JSONField(default=list, blank=True)
    tier_application = models.CharField(
        max_length=20, choices=TierApplication.choices, default=TierApplication.FROM_REACHED
    )
    # CPL
    cpl_amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    # Forex rebate
    rebate_per_lot = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    rebate_groups = models.JSONField(default=list, blank=True)
    lot_step = models.DecimalField(max_digits=10, decimal_places=4, default="0.01")
    lot_rounding = models.CharField(max_length=20, choices=LotRounding.choices, default=LotRounding.DOWN)
    # Prop
    prop_percent = models.DecimalField(max_digits=7, decimal_places=4, default=0)
    prop_pass_amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    prop_funded_amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    prop_include_resets = models.BooleanField(default=True)
    # Sub-affiliates
    subaffiliate_percent = models.DecimalField(max_digits=7, decimal_places=4, default=0)

    class Meta:
        ordering = ["deal", "-version"]
        constraints = [models.UniqueConstraint(fields=["deal", "version"], name="dealversion_unique")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} from {self.effective_from}"


class DealAssignment(models.Model):
    """A deal in force for an affiliate (or, with no affiliate, the brand's default for everyone without
    their own) between two dates. `overrides` changes single terms for this affiliate only."""

    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="assignments")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", editable=False)
    affiliate = models.ForeignKey(
        Affiliate,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deal_assignments",
        help_text="Empty: the brand's default deal for affiliates without an assignment of their own.",
    )
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="Last day in force; empty means open-ended.")
    overrides = models.JSONField(default=dict, blank=True, help_text='Per-affiliate terms, e.g. {"cpa_amount": "250"}.')
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-valid_from", "-pk"]
        indexes = [models.Index(fields=["affiliate", "brand", "valid_from"])]
        constraints = [
            models.CheckConstraint(
                name="assignment_dates_ordered",
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gte=models.F("valid_from")),
            )
        ]

    def __str__(self) -> str:
        who = self.affiliate or "default"
        return f"{self.deal.name} → {who} from {self.valid_from}"
