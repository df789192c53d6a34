"""Demo commissions: every demo event run through the engine (as ingestion does, idempotently), every
finished month closed (RevShare, whole-period tiers), and due holds released. Running it again changes
nothing."""

from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from affiliates.models import Brand
from tracking.models import ConversionEvent

from . import engine, services
from .models import CommissionEntry, ReviewPolicy

# Review thresholds of the demo casino: large entries and sudden rises wait for finance.
REVIEW_POLICY = {"amount_over": Decimal("300.00"), "entry_rise_factor": Decimal("5"), "day_rise_factor": Decimal("5")}


def seed(ctx=None) -> list[str]:
    now = timezone.now()
    casino = Brand.objects.filter(slug="lucky-casino").first()
    if casino is not None:
        ReviewPolicy.objects.get_or_create(brand=casino, defaults=REVIEW_POLICY)
    for event_id in ConversionEvent.objects.order_by("occurred_at", "pk").values_list("pk", flat=True):
        services.commission_process_event(event_id=event_id)
    brands = set(ConversionEvent.objects.values_list("brand_id", flat=True).distinct())
    deals = engine.Deals(brands)
    closed = 0
    for brand_id in sorted(brands):
        moments = ConversionEvent.objects.filter(brand_id=brand_id).values_list("occurred_at", flat=True)
        periods = {deals.period(brand_id, moment) for moment in moments}
        for period in sorted(periods):
            if deals.period_bounds(brand_id, period)[1] <= now:
                services.commission_period_close(brand_id=brand_id, period=period, now=now)
                closed += 1
    released = services.commission_release_holds(now=now)
    totals = CommissionEntry.objects.aggregate(n=Count("pk"), affiliates=Count("affiliate", distinct=True))
    by_kind = CommissionEntry.objects.values("kind").annotate(n=Count("pk"), total=Sum("amount")).order_by("kind")
    kinds = ", ".join(f"{row['kind']} {row['n']}" for row in by_kind) or "none"
    return [
        f"{totals['n']} commission entries for {totals['affiliates']} affiliates ({kinds}); "
        f"{closed} month(s) closed, {released} hold(s) released, "
        f"{CommissionEntry.objects.filter(review_flag=True).count()} flagged for review"
    ]
