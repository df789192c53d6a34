"""Partner postbacks: which outbox events fire which postback, and how a URL template is filled in.

Only the known macros are replaced; each value is URL-encoded, a missing value becomes an empty string, and
nothing else in the template is touched (click ids are case-sensitive, so is everything else).
"""

import hashlib
import hmac
import re
from urllib.parse import quote

from django.conf import settings

from .choices import PostbackEvent

MACROS = ("click_id", "sub1", "sub2", "sub3", "sub4", "sub5", "event", "payout", "currency", "event_id", "customer_id")
_MACRO = re.compile(r"\{(" + "|".join(MACROS) + r")\}")
SUB_FIELDS = ("sub1", "sub2", "sub3", "sub4", "sub5")


def postback_events_for(*, type: str, data: dict) -> list[str]:
    """The postback events an outbox event fires: conversions fire registration and FTD postbacks,
    commissions fire `commission` (every kind) and `qualified_cpa` (kind cpa)."""
    if data.get("is_test"):
        return []  # a source in test mode: nothing reaches a partner's tracker
    if type == "conversion.created":
        kind = str(data.get("type") or data.get("event_type") or "")
        if kind in (PostbackEvent.REGISTRATION, PostbackEvent.FTD):
            return [kind]
        return []
    if type == "commission.created":
        fired = [PostbackEvent.COMMISSION.value]
        if data.get("kind") == "cpa":
            fired.insert(0, PostbackEvent.QUALIFIED_CPA.value)
        return fired
    return []


def hash_customer_id(external_id: str) -> str:
    """A stable pseudonym of an operator's customer id: the partner can count and match, not identify."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"customer:{external_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def _text(value) -> str:
    return "" if value is None else str(value)


def _customer_details(data: dict) -> dict:
    """Click id, sub ids and external id from the event, completed from the attributed customer when the
    event names one but does not carry them. Conversions name the customer as `customer` (our id) with
    `customer_external_id`; commissions name it as `customer_id` (our id) only."""
    external = data.get("customer_external_id") or data.get("external_id")
    if external is None and isinstance(data.get("customer_id"), str):
        external = data["customer_id"]
    found = {"click_id": data.get("click_id"), **{name: data.get(name) for name in SUB_FIELDS}, "external_id": external}
    customer_pk = next((data.get(k) for k in ("customer", "customer_id") if isinstance(data.get(k), int)), None)
    missing = any(found[name] in (None, "") for name in ("click_id", "external_id", *SUB_FIELDS))
    if missing and customer_pk is not None:
        from tracking.models import Customer

        customer = Customer.objects.select_related("click").filter(pk=customer_pk).first()
        if customer is not None:
            if found["click_id"] in (None, "") and customer.click_id:
                found["click_id"] = customer.click.click_id
            for name in SUB_FIELDS:
                if found[name] in (None, ""):
                    found[name] = getattr(customer, name)
            if found["external_id"] in (None, ""):
                found["external_id"] = customer.external_id
    return found


def postback_values(*, event: str, type: str, data: dict, raw_customer_ids: bool) -> dict[str, str]:
    """The macro values for one postback event fired by an outbox event of `type` with `data`."""
    details = _customer_details(data)
    external_id = _text(details["external_id"])
    customer_id = external_id if raw_customer_ids or not external_id else hash_customer_id(external_id)
    is_commission = type.startswith("commission.")
    return {
        "click_id": _text(details["click_id"]),
        **{name: _text(details[name]) for name in SUB_FIELDS},
        "event": event,
        "payout": _text(data.get("amount")) if is_commission else "",
        "currency": _text(data.get("currency")),
        "event_id": _text(data.get("id") or data.get("event_id")),
        "customer_id": customer_id,
    }


def render_template(template: str, values: dict[str, str]) -> str:
    return _MACRO.sub(lambda m: quote(values.get(m.group(1), ""), safe=""), template)
