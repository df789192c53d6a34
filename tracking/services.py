"""Writes for tracking links, promo codes, clicks and customer reassignment. Views and admin call these.

Attribution of customers from events lives in `attribution.py` (`customer_resolve`).
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import datetime
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from affiliates.models import Affiliate, Brand
from integrations.webhooks.outbox import outbox_publish
from reports.upkeep import rollups_mark_customer

from .attribution import SUB_FIELDS, customer_attributed_payload
from .choices import AttributionMethod, ClickFlag
from .models import Click, Customer, CustomerReassignment, PromoCode, TrackingLink

LANDING_URL_MAX_LENGTH = 2000
TOKEN_BYTES = 16  # 128 random bits: 22 URL-safe characters, not guessable
CLICK_ID_BYTES = 16
_url_validator = URLValidator(schemes=["http", "https"])


# --- Tracking links -------------------------------------------------------------------------------


def landing_url_validate(value) -> str:
    """The landing URL as stored, or ValidationError: absolute http(s) with a real host, at most 2000 chars."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("Enter the landing page URL.", code="required")
    value = value.strip()
    if len(value) > LANDING_URL_MAX_LENGTH:
        raise ValidationError(f"At most {LANDING_URL_MAX_LENGTH} characters.", code="too_long")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValidationError("A URL cannot contain spaces or control characters.", code="invalid_url")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ValidationError("Not a valid URL.", code="invalid_url") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("Only absolute http:// or https:// URLs are allowed.", code="invalid_scheme")
    if not parts.hostname:
        raise ValidationError("The URL needs a host.", code="invalid_url")
    try:
        parts.hostname.encode("idna")
    except UnicodeError as exc:
        raise ValidationError("The host name is not valid.", code="invalid_url") from exc
    if parts.username or parts.password:
        raise ValidationError("A landing URL cannot carry a user name or password.", code="invalid_url")
    try:
        _url_validator(value)
    except ValidationError as exc:
        raise ValidationError("Not a valid URL with a real host name.", code="invalid_url") from exc
    return value


def tracking_link_create(
    *, affiliate: Affiliate, brand: Brand, landing_url: str, name: str = "", created_by=None
) -> TrackingLink:
    """A new link with an unguessable token. The landing URL is validated (http/https, real host)."""
    try:
        landing_url = landing_url_validate(landing_url)
    except ValidationError as exc:
        raise ValidationError({"landing_url": exc.messages}) from exc
    for _ in range(3):
        link = TrackingLink(
            token=secrets.token_urlsafe(TOKEN_BYTES),
            affiliate=affiliate,
            brand=brand,
            landing_url=landing_url,
            name=(name or "").strip()[:120],
            created_by=created_by,
        )
        try:
            with transaction.atomic():
                link.save()
            return link
        except IntegrityError:  # a token collision, astronomically unlikely: draw again
            continue
    raise RuntimeError("Could not draw a unique tracking token.")


def tracking_link_update(*, link: TrackingLink, name: str, is_active: bool) -> TrackingLink:
    """Rename, enable or disable a link; its target never changes once placed (make a new link instead).

    Other processes see a disabled link within TRACKING_LINK_CACHE_SECONDS; this one at once.
    """
    from .redirect import link_cache_forget

    name = (name or "").strip()[:120]
    TrackingLink.objects.filter(pk=link.pk).update(name=name, is_active=is_active)
    link.name, link.is_active = name, is_active
    link_cache_forget(link.token)
    return link


def tracking_link_set_active(*, link: TrackingLink, is_active: bool) -> TrackingLink:
    return tracking_link_update(link=link, name=link.name, is_active=is_active)


# --- Promo codes ----------------------------------------------------------------------------------


def promo_code_create(*, brand: Brand, affiliate: Affiliate, code: str) -> PromoCode:
    """A promo code an affiliate owns at a brand; unique per brand regardless of letter case."""
    code = (code or "").strip()
    if not code or len(code) > 60 or not code.isprintable():
        raise ValidationError({"code": "A promo code is 1 to 60 printable characters."})
    if PromoCode.objects.filter(brand=brand, code__iexact=code).exists():
        raise ValidationError({"code": f"The promo code {code!r} is already taken at this brand."})
    try:
        with transaction.atomic():
            return PromoCode.objects.create(brand=brand, affiliate=affiliate, code=code)
    except IntegrityError as exc:
        raise ValidationError({"code": f"The promo code {code!r} is already taken at this brand."}) from exc


def promo_code_set_active(*, promo: PromoCode, is_active: bool) -> PromoCode:
    """Enable or disable a promo code; a disabled code attributes nobody new."""
    PromoCode.objects.filter(pk=promo.pk).update(is_active=is_active)
    promo.is_active = is_active
    return promo


# --- Clicks ---------------------------------------------------------------------------------------


def click_id_new() -> str:
    """A random, URL-safe, case-sensitive click id (22 characters, 128 bits)."""
    return secrets.token_urlsafe(CLICK_ID_BYTES)


_CLICK_TABLE = Click._meta.db_table
_CLICK_COLUMNS = (
    "click_id", "link_id", "affiliate_id", "brand_id", "sub1", "sub2", "sub3", "sub4", "sub5",
    "country", "ip", "user_agent", "referrer", "created_at", "flag", "is_billable",
)  # fmt: skip
_CLICK_VALUES = ", ".join(["%s"] * (len(_CLICK_COLUMNS) - 2))
# Only identifiers from the model's own metadata are interpolated; every value is a parameter.
_INSERT_CLICK = f"INSERT INTO {_CLICK_TABLE} ({', '.join(_CLICK_COLUMNS)}) VALUES ({_CLICK_VALUES}, %s, %s)"  # noqa: S608
# "Did this IP click this link since …?" Written as newest-first with LIMIT 1 so that even PostgreSQL's
# generic plan for the prepared statement walks the (link, ip, created_at) index: a plain EXISTS gets a
# generic plan that scans the whole table, expecting an early hit.
_SEEN = (
    f"(SELECT 1 FROM {_CLICK_TABLE} WHERE link_id = %s AND ip = %s AND created_at >= %s"  # noqa: S608
    " ORDER BY created_at DESC LIMIT 1) IS NOT NULL"
)
_INSERT_CLICK_FLAG_DUPLICATE = (
    f"INSERT INTO {_CLICK_TABLE} ({', '.join(_CLICK_COLUMNS)}) VALUES ({_CLICK_VALUES},"  # noqa: S608
    f" CASE WHEN {_SEEN} THEN %s ELSE '' END, CASE WHEN {_SEEN} THEN %s ELSE %s END)"
)
# PostgreSQL: the duplicate probe runs once, and the statement is prepared on the connection (parsed and
# planned once, not per click). Values are bound server-side; only `ip` needs a type in a SELECT list.
_PG_VALUES = ", ".join("%s::inet" if column == "ip" else "%s" for column in _CLICK_COLUMNS[:-2])
_PG_INSERT_CLICK_FLAG_DUPLICATE = (
    f"INSERT INTO {_CLICK_TABLE} ({', '.join(_CLICK_COLUMNS)}) SELECT {_PG_VALUES},"  # noqa: S608
    f" CASE WHEN d.seen THEN %s ELSE '' END, NOT d.seen FROM (SELECT {_SEEN} AS seen) d"
)


def _execute_click_insert(sql: str, params: list) -> None:
    if connection.vendor == "postgresql":
        # Django's cursors bind values in Python (client-side) and never prepare: for the hottest INSERT
        # use a plain psycopg cursor on the same connection, under Django's error wrapping.
        import psycopg

        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def click_record(
    *,
    link_id: int,
    affiliate_id: int,
    brand_id: int,
    subs: tuple[str, str, str, str, str],
    country: str,
    ip: str | None,
    user_agent: str,
    referrer: str,
    flag: str,
    duplicate_since: datetime | None,
    click_id: str | None = None,
    now: datetime | None = None,
) -> str:
    """Record one click with a single INSERT and return its click id.

    `flag` is what is already known (bot, affiliate inactive). When there is none and `duplicate_since`
    is given, the same statement flags the click duplicate if that IP already clicked this link since
    then: one round trip. The redirect is the hottest path, so this is one raw statement rather than a
    model save (which would build an instance and run the ORM's insert compiler on every click).
    """
    click_id = click_id or click_id_new()
    now = now or timezone.now()
    values = [click_id, link_id, affiliate_id, brand_id, *subs, country, ip, user_agent, referrer, now]
    if flag or ip is None or duplicate_since is None:
        _execute_click_insert(_INSERT_CLICK, [*values, flag, not flag])
    elif connection.vendor == "postgresql":
        seen = [link_id, ip, duplicate_since]
        _execute_click_insert(_PG_INSERT_CLICK_FLAG_DUPLICATE, [*values, ClickFlag.DUPLICATE, *seen])
    else:
        seen = [link_id, ip, duplicate_since]
        _execute_click_insert(_INSERT_CLICK_FLAG_DUPLICATE, [*values, *seen, ClickFlag.DUPLICATE, *seen, False, True])
    return click_id


# --- Customers ------------------------------------------------------------------------------------


def customer_reassign(*, customer: Customer, affiliate: Affiliate, reason: str, by=None) -> Customer:
    """Move a customer to another affiliate, with a reason, recorded in CustomerReassignment.

    The click, link, promo code and sub ids belonged to the previous affiliate's traffic: they are kept in
    the audit row and cleared on the customer, so postbacks never send one partner's click id to another.
    Past commission entries are not touched here; the commission engine attributes future events to the
    customer's affiliate at the time.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason is required to reassign a customer."})
    if len(reason) > 500:
        raise ValidationError({"reason": "At most 500 characters."})
    with transaction.atomic():
        customer = (
            Customer.objects.select_for_update(of=("self",))
            .select_related("brand", "click", "link", "promo_code")
            .get(pk=customer.pk)
        )
        if customer.affiliate_id == affiliate.pk:
            raise ValidationError({"affiliate": "The customer already belongs to this affiliate."})
        previous = {
            "attribution_method": customer.attribution_method,
            "click_id": customer.click.click_id if customer.click_id else None,
            "tracking_link": customer.link.token if customer.link_id else None,
            "promo_code": customer.promo_code.code if customer.promo_code_id else None,
            "attributed_at": customer.attributed_at.isoformat() if customer.attributed_at else None,
            **{name: getattr(customer, name) for name in SUB_FIELDS},
        }
        previous_affiliate = customer.affiliate_id
        CustomerReassignment.objects.create(
            customer=customer,
            from_affiliate_id=customer.affiliate_id,
            to_affiliate=affiliate,
            reason=reason,
            changed_by=by,
            previous=previous,
        )
        customer.affiliate = affiliate
        customer.attribution_method = AttributionMethod.MANUAL
        customer.click = None
        customer.link = None
        customer.promo_code = None
        for name in SUB_FIELDS:
            setattr(customer, name, "")
        customer.attributed_at = timezone.now()
        fields = ["affiliate", "attribution_method", "click", "link", "promo_code", "attributed_at", *SUB_FIELDS]
        customer.save(update_fields=fields)
        rollups_mark_customer(customer=customer, affiliate_ids=[a for a in (previous_affiliate, affiliate.pk) if a])
        outbox_publish(
            type="customer.attributed",
            data=customer_attributed_payload(customer),
            affiliate_id=affiliate.pk,
            brand_id=customer.brand_id,
        )
    return customer


def ip_or_none(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except (ValueError, AttributeError):
        return None
