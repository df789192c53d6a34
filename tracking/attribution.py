"""Attribution: which affiliate a customer belongs to, decided once, by the first hint that resolves.

The CONTRACT order is click id, tracking token, affiliate id, promo code. A customer keeps its first
attribution; a later hint that points at another affiliate is recorded as an AttributionConflict for
the manager and never applied by itself (only `customer_reassign` moves a customer).

A hint that does not resolve for a customer still unattributed is recorded as an AttributionMiss with a stable
reason code and a sentence (unknown click, click after the event or beyond the window and by how long, disabled
link, unknown affiliate, unknown or deactivated promo code, another brand's hint, sub ids alone): written in one
bulk INSERT per chunk, and only for customers with a failed hint, so a customer attributed at once costs nothing
more. `reattribution.py` re-runs the evaluation once a manager fixed the cause.

Affiliate status does not stop attribution: a customer referred by a suspended or rejected affiliate is
still theirs (the manager decides what happens next, e.g. reactivation or reassignment). Billing is the
commission engine's concern: it books nothing payable for an affiliate that is not active when the
commission would arise, so attributing here never pays a suspended affiliate by itself.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from affiliates.models import Affiliate, Brand
from core.bulk_sql import columns_insert, rows_update, run_bound
from integrations.webhooks.outbox import outbox_publish_many

from .choices import AttributionMethod, HintKind, HintReason
from .models import (
    SUB_ID_LENGTH,
    AttributionConflict,
    AttributionMiss,
    Click,
    ConversionEvent,
    Customer,
    PromoCode,
    TrackingLink,
)

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
    claim = CustomerClaim(
        brand=brand,
        external_id=external_id,
        hints=hints,
        occurred_at=occurred_at,
        country=country,
        registration=registration,
        event=event,
    )
    return customers_resolve(claims=[claim])[0]


@dataclass
class CustomerClaim:
    """One event's say about a customer: who it is, the hints it carries, when it happened."""

    brand: Brand
    external_id: str
    hints: dict
    occurred_at: datetime
    country: str = ""
    registration: bool = False
    event: ConversionEvent | None = None
    source_id: int | None = None
    inbound_id: int | None = None


# Every field customer resolution may change (written back together for the rows that changed).
_CUSTOMER_FIELDS = (
    "affiliate", "attribution_method", "click", "link", "promo_code", *SUB_FIELDS, "country", "registered_at",
    "first_event_at", "attributed_at",
)  # fmt: skip


class _HintLookup:
    """resolve_hint for many hints with one query per kind (clicks, links, affiliates) for the whole batch."""

    def __init__(self, claims: list[CustomerClaim]):
        values: dict[str, set[str]] = {method: set() for method in HINT_ORDER}
        for claim in claims:
            for method in HINT_ORDER:
                value = _hint(claim.hints, method.value)
                if value:
                    values[method].add(value)
        clicks = [v for v in values[AttributionMethod.CLICK_ID] if len(v) <= 40]
        self.clicks = {c.click_id: c for c in Click.objects.filter(click_id__in=clicks)} if clicks else {}
        # Many clicks share few links and affiliates: each is read once, not joined to every click.
        self.click_links = TrackingLink.objects.in_bulk({c.link_id for c in self.clicks.values()} - {None})
        # Attribution needs an affiliate's identity only (anything else read later loads on access).
        self.click_affiliates = Affiliate.objects.only("id").in_bulk({c.affiliate_id for c in self.clicks.values()})
        tokens = [v for v in values[AttributionMethod.TRACKING_TOKEN] if len(v) <= 32]
        self.links = (
            {
                link.token: link
                # Disabled links too: they do not attribute, but the miss says so (link_inactive).
                for link in TrackingLink.objects.select_related("affiliate").filter(token__in=tokens)
            }
            if tokens
            else {}
        )
        affiliate_ids = {
            int(v) for v in values[AttributionMethod.AFFILIATE_ID] if v.isascii() and v.isdigit() and len(v) <= 18
        }
        self.affiliates = Affiliate.objects.in_bulk(affiliate_ids) if affiliate_ids else {}
        self.promos: dict[tuple[int, str], Resolution | None] = {}
        self.promo_misses: dict[tuple[int, str], tuple[str, str, int | None]] = {}
        self.brand_slugs: dict[int, str] = {}

    def resolve(self, brand: Brand, method: str, value: str, occurred_at: datetime) -> Resolution | None:
        if not value:
            return None
        if method == AttributionMethod.CLICK_ID:
            click = self.clicks.get(value)
            if click is None or click.brand_id != brand.pk:
                return None
            window = timedelta(days=brand.attribution_window_days)
            if not (occurred_at - window <= click.created_at <= occurred_at + CLICK_CLOCK_SKEW):
                return None
            subs = {name: getattr(click, name) for name in SUB_FIELDS}
            link = self.click_links.get(click.link_id)
            return Resolution(
                method, value, self.click_affiliates[click.affiliate_id], click=click, link=link, subs=subs
            )
        if method == AttributionMethod.TRACKING_TOKEN:
            link = self.links.get(value)
            if link is None or link.brand_id != brand.pk or not link.is_active:
                return None
            return Resolution(method, value, link.affiliate, link=link)
        if method == AttributionMethod.AFFILIATE_ID:
            if not value.isascii() or not value.isdigit() or len(value) > 18:
                return None
            affiliate = self.affiliates.get(int(value))
            return Resolution(method, value, affiliate) if affiliate is not None else None
        if method == AttributionMethod.PROMO_CODE:
            key = (brand.pk, value)
            if key not in self.promos:
                self.promos[key] = _resolve_promo(brand, value)
            return self.promos[key]
        return None

    def _brand_slug(self, brand_id: int) -> str:
        if brand_id not in self.brand_slugs:
            self.brand_slugs[brand_id] = Brand.objects.filter(pk=brand_id).values_list("slug", flat=True).first() or (
                f"#{brand_id}"
            )
        return self.brand_slugs[brand_id]

    def explain(self, brand: Brand, method: str, value: str, occurred_at: datetime) -> AttributionMiss:
        """Why a hint that `resolve` refused did not attribute (an unsaved miss without its customer)."""
        miss = AttributionMiss(hint=method, value=value[:CONFLICT_VALUE_LENGTH], occurred_at=occurred_at)
        shown = repr(value if len(value) <= 60 else value[:57] + "...")
        if method == AttributionMethod.CLICK_ID:
            click = self.clicks.get(value)
            if click is None:
                return _miss(miss, HintReason.CLICK_UNKNOWN, f"Click id {shown} is not a click recorded here.")
            miss.click, miss.affiliate_id = click, click.affiliate_id
            if click.brand_id != brand.pk:
                where = self._brand_slug(click.brand_id)
                text = f"Click {shown} was made on brand {where}, not on {brand.slug}."
                return _miss(miss, HintReason.OTHER_BRAND, text)
            if click.created_at > occurred_at + CLICK_CLOCK_SKEW:
                late = click.created_at - occurred_at
                miss.delta_seconds = int(late.total_seconds())
                text = (
                    f"Click {shown} was made {duration_text(late)} after the event "
                    f"({click.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC against "
                    f"{occurred_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC; "
                    f"at most {duration_text(CLICK_CLOCK_SKEW)} of clock difference is allowed)."
                )
                return _miss(miss, HintReason.CLICK_AFTER_EVENT, text)
            window = timedelta(days=brand.attribution_window_days)
            before = occurred_at - click.created_at
            miss.delta_seconds = int((before - window).total_seconds())
            text = (
                f"Click {shown} was made {duration_text(before)} before the event, "
                f"{duration_text(before - window)} beyond {brand.slug}'s attribution window of "
                f"{brand.attribution_window_days} days."
            )
            return _miss(miss, HintReason.CLICK_OUTSIDE_WINDOW, text)
        if method == AttributionMethod.TRACKING_TOKEN:
            link = self.links.get(value)
            if link is None:
                return _miss(miss, HintReason.LINK_UNKNOWN, f"Tracking token {shown} is not a tracking link here.")
            miss.affiliate_id = link.affiliate_id
            if link.brand_id != brand.pk:
                text = f"Tracking link {shown} is a link of brand {self._brand_slug(link.brand_id)}, not {brand.slug}."
                return _miss(miss, HintReason.OTHER_BRAND, text)
            return _miss(miss, HintReason.LINK_INACTIVE, f"Tracking link {shown} is disabled.")
        if method == AttributionMethod.AFFILIATE_ID:
            if not value.isascii() or not value.isdigit() or len(value) > 18:
                return _miss(miss, HintReason.AFFILIATE_UNKNOWN, f"Affiliate id {shown} is not an affiliate's number.")
            return _miss(miss, HintReason.AFFILIATE_UNKNOWN, f"Affiliate id {shown} names no affiliate.")
        key = (brand.pk, value)
        if key not in self.promo_misses:
            self.promo_misses[key] = _promo_miss(brand, value, shown, self._brand_slug)
        reason, text, affiliate_id = self.promo_misses[key]
        miss.affiliate_id = affiliate_id
        return _miss(miss, reason, text)


def _miss(miss: AttributionMiss, reason: str, message: str) -> AttributionMiss:
    miss.reason, miss.message = reason, message[:500]
    return miss


def _promo_miss(brand: Brand, value: str, shown: str, brand_slug) -> tuple[str, str, int | None]:
    """(reason, sentence, owner) for a promo code that did not resolve at `brand`."""
    if len(value) > 60:
        return HintReason.PROMO_UNKNOWN, f"Promo code {shown} is longer than any promo code.", None
    promos = list(PromoCode.objects.filter(code__iexact=value).values_list("brand_id", "affiliate_id", "is_active"))
    here = [p for p in promos if p[0] == brand.pk]
    if here:
        return HintReason.PROMO_EXPIRED, f"Promo code {shown} of {brand.slug} is deactivated.", here[0][1]
    if promos:
        text = f"Promo code {shown} belongs to brand {brand_slug(promos[0][0])}, not {brand.slug}."
        return HintReason.OTHER_BRAND, text, promos[0][1]
    return HintReason.PROMO_UNKNOWN, f"Promo code {shown} is not a promo code of {brand.slug}.", None


def duration_text(delta: timedelta) -> str:
    """A duration as a person says it, to its two largest units: "3 days 4 hours", "12 minutes", "40 seconds"."""
    seconds = int(abs(delta.total_seconds()))
    units = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    parts = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
        if len(parts) == 2:
            break
    return " ".join(parts) or "0 seconds"


def hints_evaluate(
    lookup: _HintLookup, brand: Brand, hints: dict, occurred_at: datetime
) -> tuple[Resolution | None, list[AttributionMiss]]:
    """The first hint (in CONTRACT order) that resolves, and a miss for each hint before it that did not.

    Sub ids without any hint that names an affiliate are a miss of their own (sub_ids_only): the customer
    carried something, and the operator should hear that it cannot attribute.
    """
    misses: list[AttributionMiss] = []
    named = False
    for method in HINT_ORDER:
        value = _hint(hints, method.value)
        if not value:
            continue
        named = True
        resolution = lookup.resolve(brand, method, value, occurred_at)
        if resolution is not None:
            return resolution, misses
        misses.append(lookup.explain(brand, method, value, occurred_at))
    if not named:
        subs = [(name, clean_sub_id(hints.get(name))) for name in SUB_FIELDS] if isinstance(hints, dict) else []
        subs = [(name, value) for name, value in subs if value]
        if subs:
            shown = ", ".join(f"{name}={value}" for name, value in subs)
            miss = AttributionMiss(hint=HintKind.SUB_IDS, value=shown[:CONFLICT_VALUE_LENGTH], occurred_at=occurred_at)
            text = f"Only sub ids were sent ({shown[:300]}): sub ids describe traffic but name no affiliate."
            misses.append(_miss(miss, HintReason.SUB_IDS_ONLY, text))
    return None, misses


def _customers_locked(brand: Brand, external_ids: set[str]) -> dict[str, Customer]:
    """The customer rows, the new ones created, locked (in external id order) for the caller's transaction.

    A concurrent creator of the same customer makes the INSERT skip that row (ON CONFLICT DO NOTHING waits
    for the other transaction); the re-read then finds and locks the winner's row.
    """
    found = {c.external_id: c for c in _customers_select(brand.pk, sorted(external_ids))}
    missing = sorted(external_ids - found.keys())
    if missing:
        columns_insert(
            model=Customer,
            columns={"brand_id": [brand.pk] * len(missing), "external_id": missing},
            skip_conflicts=True,
        )
        found.update((c.external_id, c) for c in _customers_select(brand.pk, missing))
    for customer in found.values():
        customer.brand = brand
    return found


def _customers_select(brand_id: int, external_ids: list[str]) -> list[Customer]:
    """The brand's customers with these external ids, locked in external id order."""
    queryset = Customer.objects.select_for_update().filter(brand_id=brand_id).order_by("external_id")
    if connection.vendor != "postgresql":
        return list(queryset.filter(external_id__in=external_ids))
    # The same statement with the ids as one array bound on the server (the ORM quotes each into the SQL).
    fields = Customer._meta.concrete_fields
    names = [f.attname for f in fields]
    rows = run_bound(
        f"SELECT {', '.join(connection.ops.quote_name(f.column) for f in fields)} "  # noqa: S608 (model names)
        f"FROM {connection.ops.quote_name(Customer._meta.db_table)} "
        "WHERE brand_id = %s AND external_id = ANY(%b::text[]) ORDER BY external_id FOR UPDATE",
        [brand_id, external_ids],
    )
    return [Customer.from_db(connection.alias, names, values) for values in rows]


def customers_resolve(*, claims: list[CustomerClaim]) -> list[Customer]:
    """customer_resolve for many claims at once, with the same outcome as resolving them one by one in order.

    A few queries for the whole batch: the customers (locked, the new ones created), the clicks, tracking
    links and affiliates the hints name; then the claims are applied in memory, in order, and the changed
    customers, the conflicts and the attribution announcements are written. Returns the customer of each
    claim (one object per customer).
    """
    keys: list[tuple[int, str]] = []
    for claim in claims:
        external_id = (claim.external_id or "").strip()
        if not external_id:
            raise ValueError("A customer needs an external id.")
        keys.append((claim.brand.pk, external_id))
    if not claims:
        return []
    with transaction.atomic():
        brands = {claim.brand.pk: claim.brand for claim in claims}
        customers: dict[tuple[int, str], Customer] = {}
        for brand_id in sorted(brands):
            wanted = {external_id for b, external_id in keys if b == brand_id}
            for external_id, customer in _customers_locked(brands[brand_id], wanted).items():
                customers[(brand_id, external_id)] = customer
        lookup = _HintLookup(claims)
        changed: dict[int, Customer] = {}
        attributed: dict[int, Customer] = {}
        conflicts: dict[tuple[int, str, str], AttributionConflict] = {}
        misses: dict[tuple[int, str, str], AttributionMiss] = {}
        for claim, key in zip(claims, keys, strict=True):
            customer = customers[key]
            was_changed, was_attributed = _claim_apply(customer, claim, lookup, conflicts, misses)
            if was_changed:
                changed[customer.pk] = customer
            if was_attributed:
                attributed[customer.pk] = customer
        _customers_save(list(changed.values()))
        if conflicts:
            AttributionConflict.objects.bulk_create(list(conflicts.values()), ignore_conflicts=True)
        if misses:  # only customers with a failed hint: nothing at all for those attributed at once
            AttributionMiss.objects.bulk_create(list(misses.values()), ignore_conflicts=True)
        outbox_publish_many(  # one INSERT for the whole batch
            items=[
                {
                    "type": "customer.attributed",
                    "data": customer_attributed_payload(customer),
                    "affiliate_id": customer.affiliate_id,
                    "brand_id": customer.brand_id,
                }
                for customer in attributed.values()
            ]
        )
    return [customers[key] for key in keys]


def _claim_apply(
    customer: Customer, claim: CustomerClaim, lookup: _HintLookup, conflicts: dict, misses: dict
) -> tuple[bool, bool]:
    """Apply one claim to the (locked) customer in memory: (whether a field changed, whether it attributed)."""
    hints = claim.hints if isinstance(claim.hints, dict) else {}
    brand, occurred_at = claim.brand, claim.occurred_at
    changed = attributed = False
    if customer.affiliate_id is None:
        resolution, failed = hints_evaluate(lookup, brand, hints, occurred_at) if hints else (None, [])
        for miss in failed:
            key = (customer.pk, miss.hint, miss.value)
            if key not in misses:
                miss.customer, miss.source_id, miss.inbound_id = customer, claim.source_id, claim.inbound_id
                misses[key] = miss
        if resolution is not None:
            _apply(customer, resolution, hints, occurred_at)
            changed = attributed = True
    else:
        for method in HINT_ORDER:
            value = _hint(hints, method.value)
            if method == AttributionMethod.AFFILIATE_ID and value == str(customer.affiliate_id):
                continue  # names the customer's own affiliate: nothing to look up
            resolution = lookup.resolve(brand, method, value, occurred_at)
            if resolution is None or resolution.affiliate.pk == customer.affiliate_id:
                continue
            key = (customer.pk, method, value[:CONFLICT_VALUE_LENGTH])
            if key not in conflicts:
                conflicts[key] = AttributionConflict(
                    customer=customer,
                    method=method,
                    value=value[:CONFLICT_VALUE_LENGTH],
                    claimed_affiliate=resolution.affiliate,
                    event=claim.event if claim.event and claim.event.pk else None,
                )
    if claim.registration and customer.registered_at is None:
        customer.registered_at = occurred_at
        changed = True
    if customer.first_event_at is None or occurred_at < customer.first_event_at:
        # Events may arrive out of order: the first event is the earliest one, not the first received.
        customer.first_event_at = occurred_at
        changed = True
    country = _clean_country(claim.country)
    if country and not customer.country:
        customer.country = country
        changed = True
    return changed, attributed


def _customers_save(customers: list[Customer]) -> None:
    """Write the changed customers (rows locked by this transaction) in one prepared UPDATE run."""
    rows_update(model=Customer, rows=customers, field_names=_CUSTOMER_FIELDS)


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
