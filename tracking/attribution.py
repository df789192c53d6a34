"""Attribution: which affiliate a customer belongs to, decided once, by the first hint that resolves.

The CONTRACT order is click id, tracking token, affiliate id, promo code. A customer keeps its first
attribution; a later hint that points at another affiliate is recorded as an AttributionConflict for
the manager and never applied by itself (only `customer_reassign` moves a customer).

Affiliate status does not stop attribution: a customer referred by a suspended or rejected affiliate is
still theirs (the manager decides what happens next, e.g. reactivation or reassignment). Billing is the
commission engine's concern: it books nothing payable for an affiliate that is not active when the
commission would arise, so attributing here never pays a suspended affiliate by itself.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from affiliates.models import Affiliate, Brand
from integrations.webhooks.outbox import outbox_publish

from .choices import AttributionMethod
from .models import SUB_ID_LENGTH, AttributionConflict, Click, ConversionEvent, Customer, PromoCode, TrackingLink

SUB_FIELDS = ("sub1", "sub2", "sub3", "sub4", "sub5")
HINT_ORDER = (
    AttributionMethod.CLICK_ID,
    AttributionMethod.TRACKING_TOKEN,
    AttributionMethod.AFFILIATE_ID,
    AttributionMethod.PROMO_CODE,
)
# Operators' clocks and ours differ a little: a click stamped slightly after the event still counts.
CLICK_CLOCK_SKEW = timedelta(minutes=5)
CONFLICT_VALUE_LENGTH = 255


def clean_sub_id(value) -> str:
    """A sub id as stored: text without control characters, trimmed, at most 255 characters."""
    if value is None or isinstance(value, bool):
        return ""
    if not isinstance(value, str):
        if not isinstance(value, int | float):
            return ""
        value = str(value)
    if not value.isprintable():
        value = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C")
    return value.strip()[:SUB_ID_LENGTH]


def _hint(hints: dict, name: str) -> str:
    value = hints.get(name) if isinstance(hints, dict) else None
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return ""
    return value.strip()


@dataclass
class Resolution:
    """What a hint resolved to: the affiliate and the objects that carried it."""

    method: str
    value: str
    affiliate: Affiliate
    click: Click | None = None
    link: TrackingLink | None = None
    promo_code: PromoCode | None = None
    subs: dict = field(default_factory=dict)


def _resolve_click(brand: Brand, value: str, occurred_at: datetime) -> Resolution | None:
    if len(value) > 40:
        return None
    window = timedelta(days=brand.attribution_window_days)
    click = (
        Click.objects.select_related("affiliate", "link")
        .filter(
            click_id=value,
            brand_id=brand.pk,
            created_at__gte=occurred_at - window,
            created_at__lte=occurred_at + CLICK_CLOCK_SKEW,
        )
        .first()
    )
    if click is None:
        return None
    subs = {name: getattr(click, name) for name in SUB_FIELDS}
    return Resolution(AttributionMethod.CLICK_ID, value, click.affiliate, click=click, link=click.link, subs=subs)


def _resolve_token(brand: Brand, value: str) -> Resolution | None:
    if len(value) > 32:
        return None
    link = (
        TrackingLink.objects.select_related("affiliate").filter(token=value, brand_id=brand.pk, is_active=True).first()
    )
    if link is None:
        return None
    return Resolution(AttributionMethod.TRACKING_TOKEN, value, link.affiliate, link=link)


def _resolve_affiliate(value: str) -> Resolution | None:
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    affiliate = Affiliate.objects.filter(pk=int(value)).first()
    if affiliate is None:
        return None
    return Resolution(AttributionMethod.AFFILIATE_ID, value, affiliate)


def _resolve_promo(brand: Brand, value: str) -> Resolution | None:
    if len(value) > 60:
        return None
    promo = (
        PromoCode.objects.select_related("affiliate")
        .filter(brand_id=brand.pk, code__iexact=value, is_active=True)
        .first()
    )
    if promo is None:
        return None
    return Resolution(AttributionMethod.PROMO_CODE, value, promo.affiliate, promo_code=promo)


def resolve_hint(*, brand: Brand, method: str, value: str, occurred_at: datetime) -> Resolution | None:
    """The affiliate one hint points at, or None when it does not resolve (unknown, expired, other brand)."""
    if not value:
        return None
    if method == AttributionMethod.CLICK_ID:
        return _resolve_click(brand, value, occurred_at)
    if method == AttributionMethod.TRACKING_TOKEN:
        return _resolve_token(brand, value)
    if method == AttributionMethod.AFFILIATE_ID:
        return _resolve_affiliate(value)
    if method == AttributionMethod.PROMO_CODE:
        return _resolve_promo(brand, value)
    return None


def _customer_locked(brand: Brand, external_id: str) -> Customer:
    """The customer row, created if new, locked for the rest of the caller's transaction.

    Two concurrent first events for one new customer both try the INSERT; the unique constraint lets
    one win, the other waits for it, gets IntegrityError inside its savepoint and reads the winner's row.
    """
    queryset = Customer.objects.select_for_update()
    customer = queryset.filter(brand_id=brand.pk, external_id=external_id).first()
    if customer is not None:
        return customer
    try:
        with transaction.atomic():
            return Customer.objects.create(brand=brand, external_id=external_id)
    except IntegrityError:
        return queryset.get(brand_id=brand.pk, external_id=external_id)


def _clean_country(value: str) -> str:
    value = (value or "").strip().upper()
    return value if len(value) == 2 and value.isascii() and value.isalpha() else ""


def customer_resolve(
    *,
    brand: Brand,
    external_id: str,
    hints: dict,
    occurred_at: datetime,
    country: str = "",
    registration: bool = False,
    event: ConversionEvent | None = None,
) -> Customer:
    """Get or create the customer (brand, external_id) and attribute it by the first hint that resolves.

    An attributed customer keeps its affiliate: a hint resolving to another affiliate is recorded once per
    (customer, method, value) as an AttributionConflict and changes nothing. Safe under concurrency: the
    customer row is locked until the caller's transaction ends.
    """
    external_id = (external_id or "").strip()
    if not external_id:
        raise ValueError("A customer needs an external id.")
    hints = hints if isinstance(hints, dict) else {}
    with transaction.atomic():
        customer = _customer_locked(brand, external_id)
        changed: set[str] = set()
        attributed = False

        if customer.affiliate_id is None:
            for method in HINT_ORDER:
                resolution = resolve_hint(
                    brand=brand, method=method, value=_hint(hints, method.value), occurred_at=occurred_at
                )
                if resolution is not None:
                    _apply(customer, resolution, hints, occurred_at)
                    changed |= {"affiliate", "attribution_method", "click", "link", "promo_code", "attributed_at"}
                    changed |= set(SUB_FIELDS)
                    attributed = True
                    break
        else:
            _record_conflicts(customer, brand, hints, occurred_at, event)

        if registration and customer.registered_at is None:
            customer.registered_at = occurred_at
            changed.add("registered_at")
        if customer.first_event_at is None or occurred_at < customer.first_event_at:
            # Events may arrive out of order: the first event is the earliest one, not the first received.
            customer.first_event_at = occurred_at
            changed.add("first_event_at")
        country = _clean_country(country)
        if country and not customer.country:
            customer.country = country
            changed.add("country")
        if changed:
            customer.save(update_fields=sorted(changed))
        if attributed:
            outbox_publish(
                type="customer.attributed",
                data=customer_attributed_payload(customer),
                affiliate_id=customer.affiliate_id,
                brand_id=brand.pk,
            )
    return customer


def customer_attributed_payload(customer: Customer) -> dict:
    return {
        "customer": customer.pk,
        "external_id": customer.external_id,
        "brand": customer.brand.slug,
        "affiliate": customer.affiliate_id,
        "attribution_method": customer.attribution_method,
        "click_id": customer.click.click_id if customer.click_id else None,
        "tracking_link": customer.link.token if customer.link_id else None,
        "promo_code": customer.promo_code.code if customer.promo_code_id else None,
        **{name: getattr(customer, name) for name in SUB_FIELDS},
        "attributed_at": customer.attributed_at.isoformat() if customer.attributed_at else None,
    }


def _apply(customer: Customer, resolution: Resolution, hints: dict, occurred_at: datetime) -> None:
    customer.affiliate = resolution.affiliate
    customer.attribution_method = resolution.method
    customer.click = resolution.click
    customer.link = resolution.link
    customer.promo_code = resolution.promo_code
    subs = resolution.subs if resolution.click is not None else {name: hints.get(name) for name in SUB_FIELDS}
    for name in SUB_FIELDS:
        setattr(customer, name, clean_sub_id(subs.get(name)))
    customer.attributed_at = occurred_at


def _record_conflicts(
    customer: Customer, brand: Brand, hints: dict, occurred_at: datetime, event: ConversionEvent | None
) -> None:
    for method in HINT_ORDER:
        value = _hint(hints, method.value)
        if method == AttributionMethod.AFFILIATE_ID and value == str(customer.affiliate_id):
            continue  # names the customer's own affiliate: nothing to look up
        resolution = resolve_hint(brand=brand, method=method, value=value, occurred_at=occurred_at)
        if resolution is None or resolution.affiliate.pk == customer.affiliate_id:
            continue
        AttributionConflict.objects.get_or_create(
            customer=customer,
            method=method,
            value=value[:CONFLICT_VALUE_LENGTH],
            defaults={"claimed_affiliate": resolution.affiliate, "event": event if event and event.pk else None},
        )
