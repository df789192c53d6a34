"""Reports: daily and cohort rollups of the raw tables, kept current by the pipeline.

Reports never read the raw tables for whole days once rollups cover them (`RollupState.covered_from`):
they read `DailyRollup` (per UTC day, brand, affiliate and value of one dimension) and `CohortRollup`
(per registration month). The rows are derived data: `reports.upkeep` deletes and rebuilds them per
(affiliate, day) from the raw rows, so a rebuild of any period gives exactly what the raw rows say.
"""

from decimal import Decimal

from django.db import models

ZERO = Decimal(0)


class DailyRollup(models.Model):
    """One UTC day of activity at one brand, per affiliate (`affiliate_id` 0: every affiliate together),
    for one value of one dimension: `dimension` "" is the whole (value ""), else "country", "link" (the
    link's id; "0" no link) or "sub1"…"sub5" with that value.

    Dimensions are rolled up one at a time, not crossed: an affiliate's day has as many rows as its
    distinct countries, links and sub ids added up, not multiplied, so the table stays a small fraction
    of the raw rows. A row with `currency` "" carries the activity (billable clicks, registrations,
    FTDs, deposits and their base-currency amount, revenue); a row with a currency the counted
    commission booked in it. Events, entries and registrations take the link, country and sub ids of
    their customer, clicks their own.
    """

    day = models.DateField()
    brand_id = models.BigIntegerField()
    affiliate_id = models.BigIntegerField(help_text="0: the sum over every affiliate.")
    dimension = models.CharField(max_length=8, blank=True)
    value = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3, blank=True, help_text="'' for activity, else the commission's.")
    clicks = models.BigIntegerField(default=0)
    registrations = models.BigIntegerField(default=0)
    ftds = models.BigIntegerField(default=0)
    deposits = models.BigIntegerField(default=0)
    deposit_amount = models.DecimalField(max_digits=28, decimal_places=8, default=ZERO)
    revenue = models.DecimalField(max_digits=28, decimal_places=8, default=ZERO)
    commission = models.DecimalField(max_digits=24, decimal_places=3, default=ZERO)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["affiliate_id", "dimension", "day", "brand_id", "value", "currency"], name="rollup_grain"
            )
        ]
        # Reports by affiliate over the whole programme read every affiliate's whole-day rows of a range.
        indexes = [models.Index(fields=["dimension", "day"], name="rollup_dimension_day")]

    def __str__(self) -> str:
        return f"{self.day} affiliate {self.affiliate_id} {self.dimension}={self.value}"


class CohortRollup(models.Model):
    """The customers an affiliate brought to a brand in one registration month (UTC), and what they did
    in their first 7, 30 and 90 days (activity before `registered_at` + N days).

    A row with `currency` "" carries the customers, FTDs and revenue (base currency); a row with a
    currency the counted commission in it (entries paid to the customer's own affiliate)."""

    month = models.DateField(help_text="First day of the registration month.")
    brand_id = models.BigIntegerField()
    affiliate_id = models.BigIntegerField()
    currency = models.CharField(max_length=3, blank=True)
    customers = models.BigIntegerField(default=0)
    ftds_d7 = models.BigIntegerField(default=0)
    ftds_d30 = models.BigIntegerField(default=0)
    ftds_d90 = models.BigIntegerField(default=0)
    revenue_d7 = models.DecimalField(max_digits=28, decimal_places=8, default=ZERO)
    revenue_d30 = models.DecimalField(max_digits=28, decimal_places=8, default=ZERO)
    revenue_d90 = models.DecimalField(max_digits=28, decimal_places=8, default=ZERO)
    commission_d7 = models.DecimalField(max_digits=24, decimal_places=3, default=ZERO)
    commission_d30 = models.DecimalField(max_digits=24, decimal_places=3, default=ZERO)
    commission_d90 = models.DecimalField(max_digits=24, decimal_places=3, default=ZERO)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "affiliate_id", "brand_id", "currency"], name="cohort_grain")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} affiliate {self.affiliate_id}"


class RollupDirty(models.Model):
    """An (affiliate, UTC day) whose raw rows changed since its rollup rows were written, inserted in the
    transaction of the change and removed by the upkeep in the transaction that rewrites the rollup.

    Plain inserts, duplicates allowed: a unique marker would make concurrent writers wait for each other
    (and for the upkeep) on the same hot (affiliate, today); the upkeep reads the pairs once each."""

    affiliate_id = models.BigIntegerField()
    day = models.DateField()

    def __str__(self) -> str:
        return f"{self.day} affiliate {self.affiliate_id}"


class RollupState(models.Model):
    """The upkeep's bookkeeping (one row): from which day rollups cover the raw tables, and the last click
    rolled up (clicks are read from the click log by id, never marked by the redirect)."""

    covered_from = models.DateField(null=True, blank=True, help_text="Days from this one on are read from rollups.")
    click_watermark = models.BigIntegerField(default=0, help_text="Clicks with a larger id are not rolled up yet.")
    refreshed_at = models.DateTimeField(null=True, blank=True)
    built_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"rollups from {self.covered_from}"


class Report(DailyRollup):
    """The admin's report pages (no table of its own): activity by day, brand, affiliate, country, link or
    sub id, and registration cohorts, read from the rollups."""

    class Meta:
        proxy = True
        verbose_name = "report"
        verbose_name_plural = "reports"
