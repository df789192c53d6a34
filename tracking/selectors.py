"""Reads for tracking: click counts, customer and link querysets for the API and admin."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from affiliates.choices import AffiliateStatus
from affiliates.models import Affiliate, Brand

from .choices import AttributionMethod, ClickFlag, HintKind, HintReason
from .models import AttributionMiss, Click, Customer, TrackingLink


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
        "attribution_conflicts", "reassignments", "attribution_misses__click"
    )


def tracking_link_list() -> QuerySet[TrackingLink]:
    return TrackingLink.objects.select_related("brand", "affiliate")


# --- Attribution outcomes -------------------------------------------------------------------------

_HINT_RANK = {kind: rank for rank, kind in enumerate(HintKind.values)}


def customers_unattributed_with_hints(queryset: QuerySet[Customer], reason: str = "") -> QuerySet[Customer]:
    """The customers of `queryset` nobody is credited with although they carried a hint (of `reason`, if given)."""
    misses = AttributionMiss.objects.filter(customer=OuterRef("pk"))
    if reason:
        misses = misses.filter(reason=reason)
    return queryset.filter(Exists(misses), affiliate__isnull=True)


def _misses_of(customer: Customer) -> list[AttributionMiss]:
    cache = getattr(customer, "_prefetched_objects_cache", {})
    misses = cache["attribution_misses"] if "attribution_misses" in cache else customer.attribution_misses.all()
    return sorted(misses, key=lambda m: (_HINT_RANK.get(m.hint, 99), m.pk))


def miss_outcome(miss: AttributionMiss) -> dict:
    return {
        "hint": miss.hint,
        "value": miss.value,
        "reason": miss.reason,
        "message": miss.message,
        "attributed": False,
        "affiliate": miss.affiliate_id,
        "click_id": miss.click.click_id if miss.click_id else None,
        "delta_seconds": miss.delta_seconds,
        "occurred_at": miss.occurred_at,
    }


def _success_outcome(customer: Customer) -> dict | None:
    method = customer.attribution_method
    if customer.affiliate_id is None or method not in HintKind.values:
        return None  # nobody, or a manager's reassignment (its audit row says why)
    value = {
        AttributionMethod.CLICK_ID: customer.click.click_id if customer.click_id else "",
        AttributionMethod.TRACKING_TOKEN: customer.link.token if customer.link_id else "",
        AttributionMethod.AFFILIATE_ID: str(customer.affiliate_id),
        AttributionMethod.PROMO_CODE: customer.promo_code.code if customer.promo_code_id else "",
    }.get(method, "")
    affiliate = customer.affiliate
    label = AttributionMethod(method).label.lower()
    message = f"Attributed to {affiliate.name} (#{affiliate.pk}) by {label} {value!r}"
    if customer.attributed_at:
        message += f" on {customer.attributed_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    reason = HintReason.ATTRIBUTED
    if affiliate.status != AffiliateStatus.ACTIVE:
        reason = HintReason.AFFILIATE_INACTIVE
        paid = "are rejected" if affiliate.status == AffiliateStatus.REJECTED else "are held"
        message += f"; the affiliate is {affiliate.status}: its commissions {paid} while it is not active"
    return {
        "hint": method,
        "value": value,
        "reason": reason,
        "message": message + ".",
        "attributed": True,
        "affiliate": affiliate.pk,
        "click_id": customer.click.click_id if customer.click_id else None,
        "delta_seconds": None,
        "occurred_at": customer.attributed_at,
    }


def customer_hint_outcomes(customer: Customer) -> list[dict]:
    """The outcome of each attribution hint the customer carried, in CONTRACT order: the one that attributed
    (if any) and every one that did not, each with its reason code and sentence."""
    outcomes = [miss_outcome(miss) for miss in _misses_of(customer)]
    success = _success_outcome(customer)
    return [success, *outcomes] if success else outcomes


def customer_attribution_reason(customer: Customer) -> str | None:
    """The customer's attribution in one code: `attributed` / `affiliate_inactive`, else the first failed hint's
    reason, else None (no hint at all, or a manager's reassignment)."""
    success = _success_outcome(customer)
    if success:
        return success["reason"]
    if customer.affiliate_id is not None:
        return None
    misses = _misses_of(customer)
    return misses[0].reason if misses else None


def event_misses(inbound_ids: list[int]) -> dict[int, list[AttributionMiss]]:
    """The misses recorded from these inbound events (an event's hints share its inbound id), by inbound id."""
    found: dict[int, list[AttributionMiss]] = {}
    if not inbound_ids:
        return found
    for miss in AttributionMiss.objects.filter(inbound_id__in=inbound_ids).select_related("click").order_by("pk"):
        found.setdefault(miss.inbound_id, []).append(miss)
    for misses in found.values():
        misses.sort(key=lambda m: (_HINT_RANK.get(m.hint, 99), m.pk))
    return found


def partner_unattributed(
    *, affiliate_id: int, reason: str = "", since: datetime | None = None, until: datetime | None = None
) -> QuerySet[AttributionMiss]:
    """A partner's own hints (their clicks, links, promo codes) that led to a customer credited to nobody."""
    queryset = AttributionMiss.objects.filter(affiliate_id=affiliate_id, customer__affiliate__isnull=True)
    if reason:
        queryset = queryset.filter(reason=reason)
    if since is not None:
        queryset = queryset.filter(occurred_at__gte=since)
    if until is not None:
        queryset = queryset.filter(occurred_at__lt=until)
    return queryset.select_related("customer__brand", "click__link").order_by("-occurred_at", "-pk")
