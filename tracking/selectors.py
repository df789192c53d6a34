"""Reads for tracking: click counts, customer and link querysets for the API and admin."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, QuerySet

from affiliates.models import Affiliate, Brand

from .choices import ClickFlag
from .models import Click, Customer, TrackingLink


def click_counts(
    *, start: datetime, end: datetime, affiliate: Affiliate | None = None, brand: Brand | None = None
) -> dict[str, int]:
    """Clicks in [start, end): all, billable, and the non-billable ones by reason."""
    queryset = Click.objects.filter(created_at__gte=start, created_at__lt=end)
    if affiliate is not None:
        queryset = queryset.filter(affiliate=affiliate)
    if brand is not None:
        queryset = queryset.filter(brand=brand)
    counts = queryset.aggregate(
        clicks=Count("pk"),
        billable=Count("pk", filter=Q(is_billable=True)),
        duplicate=Count("pk", filter=Q(flag=ClickFlag.DUPLICATE)),
        bot=Count("pk", filter=Q(flag=ClickFlag.BOT)),
        affiliate_inactive=Count("pk", filter=Q(flag=ClickFlag.AFFILIATE_INACTIVE)),
    )
    return {name: value or 0 for name, value in counts.items()}


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.select_related("brand", "affiliate", "click", "link", "promo_code").prefetch_related(
        "attribution_conflicts", "reassignments"
    )


def tracking_link_list() -> QuerySet[TrackingLink]:
    return TrackingLink.objects.select_related("brand", "affiliate")
