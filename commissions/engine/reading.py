"""Reading events and customers for the engine: plain tuples, parsed once.

Times and JSON come from the database as text and are parsed here: on a month of events the driver's
per-value converters would cost more than the whole computation.
"""

import datetime as dt
import json
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from tracking.choices import EventType

VOIDING_TYPES = (EventType.REFUND, EventType.CHARGEBACK)
REFERRING = {EventType.STATUS_UPDATE, EventType.REFUND, EventType.CHARGEBACK}

EVENT_FIELDS = (
    "id", "type", "status", "customer_id", "affiliate_id", "brand_id", "amount", "currency", "amount_base",
    "fx_rate", "occurred_at", "ref_event_id", "data", "is_test", "source__test_mode",
)  # fmt: skip


class Ev(NamedTuple):
    """A canonical event as the engine reads it."""

    id: int
    type: str
    status: str
    customer_id: int | None
    affiliate_id: int | None
    brand_id: int
    amount: Decimal | None
    currency: str
    amount_base: Decimal | None
    fx_rate: Decimal | None
    occurred_at: dt.datetime
    ref_event_id: int | None
    data: dict
    is_test: bool
    source_test: bool


class Cust(NamedTuple):
    id: int
    affiliate_id: int | None
    brand_id: int
    country: str
    registered_at: dt.datetime | None


def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def load_events(queryset) -> list[Ev]:
    """Events as tuples."""
    fields = [f for f in EVENT_FIELDS if f not in ("occurred_at", "data")]
    rows = queryset.annotate(_at=Cast("occurred_at", TextField()), _data=Cast("data", TextField())).values_list(
        *fields, "_at", "_data"
    )
    at_index = EVENT_FIELDS.index("occurred_at")
    data_index = EVENT_FIELDS.index("data")
    out = []
    loads = json.loads
    for row in rows.iterator(chunk_size=20000):
        values = list(row[:-2])
        data = row[-1]
        values.insert(at_index, _moment(row[-2]))
        values.insert(data_index, loads(data, parse_float=Decimal) if data and data != "{}" else {})
        out.append(Ev(*values))
    return out


def load_customers(queryset) -> dict[int, Cust]:
    """Customers of a queryset (or a list of ids) as tuples."""
    from tracking.models import Customer

    if not hasattr(queryset, "values_list"):
        queryset = Customer.objects.filter(pk__in=list(queryset))
    rows = queryset.annotate(_at=Cast("registered_at", TextField())).values_list(
        "id", "affiliate_id", "brand_id", "country", "_at"
    )
    return {row[0]: Cust(*row[:4], _moment(row[4]) if row[4] else None) for row in rows.iterator(chunk_size=20000)}


def refs_of(event_filter: Q) -> list[Ev]:
    """Refunds and chargebacks pointing at the events the filter selects."""
    from tracking.models import ConversionEvent

    inner = ConversionEvent.objects.filter(event_filter).values("pk")
    return load_events(ConversionEvent.objects.filter(type__in=VOIDING_TYPES, ref_event_id__in=inner))
