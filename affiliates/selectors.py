"""Reads: which deal is in force for an affiliate on a day, and a deal's history."""

from datetime import date

from django.db.models import Q, QuerySet

from .models import Affiliate, Brand, DealAssignment, DealVersion


def assignment_in_force(*, affiliate: Affiliate, brand: Brand, on: date) -> DealAssignment | None:
    """The affiliate's own assignment on `on`, or else the brand's default assignment."""
    in_range = DealAssignment.objects.filter(brand=brand, valid_from__lte=on).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=on)
    )
    own = in_range.filter(affiliate=affiliate).select_related("deal").first()
    if own is not None:
        return own
    return in_range.filter(affiliate__isnull=True).select_related("deal").first()


def deal_version_on(*, deal_id: int, on: date) -> DealVersion | None:
    """The version whose terms apply to activity on `on`: the newest one effective by then."""
    return DealVersion.objects.filter(deal_id=deal_id, effective_from__lte=on).order_by("-version").first()


def deal_in_force(*, affiliate: Affiliate, brand: Brand, on: date) -> tuple[DealVersion, dict] | None:
    """(terms version, per-affiliate overrides) for the affiliate's activity at `brand` on `on`."""
    assignment = assignment_in_force(affiliate=affiliate, brand=brand, on=on)
    if assignment is None:
        return None
    version = deal_version_on(deal_id=assignment.deal_id, on=on)
    if version is None:
        return None
    if (version.valid_from and on < version.valid_from) or (version.valid_to and on > version.valid_to):
        return None  # the deal's own validity dates exclude that day
    return version, dict(assignment.overrides)


def deal_versions(*, deal_id: int) -> QuerySet[DealVersion]:
    return DealVersion.objects.filter(deal_id=deal_id).order_by("-version")
