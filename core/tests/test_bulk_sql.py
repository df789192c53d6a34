"""The bulk writers of the hot paths store exactly what the ORM would, on PostgreSQL and on SQLite."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, connection, transaction

from core.bulk_sql import columns_insert, rows_update
from integrations.tests.factories import SourceFactory
from tracking.models import ConversionEvent, Customer
from tracking.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 11, 1, 10, 30, tzinfo=dt.UTC)


def event_columns(source, external_ids, **overrides):
    count = len(external_ids)
    columns = {
        "source_id": [source.pk] * count,
        "brand_id": [source.brand_id] * count,
        "external_id": list(external_ids),
        "type": ["deposit"] * count,
        "status": ["qualified"] * count,
        "amount": [Decimal("10.01") * (n + 1) for n in range(count)],
        "currency": ["EUR"] * count,
        "occurred_at": [AT + dt.timedelta(minutes=n) for n in range(count)],
        "hints": [{"click_id": f"c{n}"} if n % 2 else {} for n in range(count)],
        "data": [{"order_id": n, "note": "ünïcode"} for n in range(count)],
    }
    columns.update(overrides)
    return columns


def test_inserted_rows_hold_every_value_and_come_back_in_order():
    source = SourceFactory()
    ids = columns_insert(model=ConversionEvent, columns=event_columns(source, ["E1", "E2", "E3"]))
    events = [ConversionEvent.objects.get(pk=pk) for pk in ids]
    assert [e.external_id for e in events] == ["E1", "E2", "E3"]
    assert [e.amount for e in events] == [Decimal("10.01"), Decimal("20.02"), Decimal("30.03")]
    assert [e.occurred_at for e in events] == [AT, AT + dt.timedelta(minutes=1), AT + dt.timedelta(minutes=2)]
    assert [e.hints for e in events] == [{}, {"click_id": "c1"}, {}]
    assert events[2].data == {"order_id": 2, "note": "ünïcode"}
    # Columns not given take their defaults; auto_now_add is the time of the call.
    assert all(e.ref_external_id == "" and e.ref_event_id is None and e.is_test is False for e in events)
    assert all(e.received_at is not None for e in events)


def test_a_column_with_the_same_value_in_every_row_is_stored_in_every_row():
    source = SourceFactory()
    ids = columns_insert(
        model=ConversionEvent,
        columns=event_columns(source, ["S1", "S2"], amount=[Decimal("5.00")] * 2, data=[{"same": True}] * 2),
    )
    assert list(ConversionEvent.objects.filter(pk__in=ids).values_list("amount", "data")) == [
        (Decimal("5.00"), {"same": True}),
        (Decimal("5.00"), {"same": True}),
    ]


def test_a_conflicting_row_fails_the_whole_insert():
    source = SourceFactory()
    columns_insert(model=ConversionEvent, columns=event_columns(source, ["D1"]))
    with pytest.raises(IntegrityError), transaction.atomic():
        columns_insert(model=ConversionEvent, columns=event_columns(source, ["D2", "D1"]))
    assert sorted(ConversionEvent.objects.values_list("external_id", flat=True)) == ["D1"]


def test_skipping_conflicts_writes_the_others():
    customer = CustomerFactory(external_id="C1")
    columns_insert(
        model=Customer,
        columns={"brand_id": [customer.brand_id] * 2, "external_id": ["C1", "C2"]},
        skip_conflicts=True,
    )
    assert sorted(Customer.objects.filter(brand=customer.brand).values_list("external_id", flat=True)) == ["C1", "C2"]


@pytest.mark.postgres
def test_a_value_too_long_for_its_column_is_an_error_not_cut_short():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite does not enforce lengths")
    source = SourceFactory()
    with pytest.raises(DataError), transaction.atomic():
        columns_insert(model=ConversionEvent, columns=event_columns(source, ["E1"], currency=["EURO"]))


def test_updated_rows_get_their_own_values_and_keep_the_others():
    source = SourceFactory()
    ids = columns_insert(model=ConversionEvent, columns=event_columns(source, ["U1", "U2", "U3"]))
    events = list(ConversionEvent.objects.filter(pk__in=ids).order_by("pk"))
    events[0].status, events[1].status, events[2].status = "rejected", "pending", "rejected"
    for event in events:
        event.data = {**event.data, "seen": event.external_id}
        event.applied_at = None
    events[1].applied_at = AT
    rows_update(model=ConversionEvent, rows=events, field_names=["status", "data", "applied_at"])
    stored = list(ConversionEvent.objects.filter(pk__in=ids).order_by("pk").values_list("status", "data", "applied_at"))
    assert stored == [
        ("rejected", {"order_id": 0, "note": "ünïcode", "seen": "U1"}, None),
        ("pending", {"order_id": 1, "note": "ünïcode", "seen": "U2"}, AT),
        ("rejected", {"order_id": 2, "note": "ünïcode", "seen": "U3"}, None),
    ]
    assert list(ConversionEvent.objects.filter(pk__in=ids).order_by("pk").values_list("amount", flat=True)) == [
        Decimal("10.01"),
        Decimal("20.02"),
        Decimal("30.03"),
    ]


def test_an_update_where_every_row_gets_the_same_values():
    first, second = CustomerFactory(), CustomerFactory()
    for customer in (first, second):
        customer.country = "DE"
        customer.first_event_at = AT
    rows_update(model=Customer, rows=[first, second], field_names=["country", "first_event_at"])
    assert list(Customer.objects.filter(pk__in=[first.pk, second.pk]).values_list("country", "first_event_at")) == [
        ("DE", AT),
        ("DE", AT),
    ]


def test_json_text_writes_what_djangos_encoder_writes_and_big_integers_too():
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    from core.bulk_sql import json_text

    value = {
        "amount": Decimal("10.10"),
        "at": dt.datetime(2026, 11, 1, 10, 30, 15, 123456, tzinfo=dt.UTC),
        "day": dt.date(2026, 11, 1),
        "name": "Zoë",
        "list": [1, None, True, 1.5],
        "big": 10**30,
    }
    assert json.loads(json_text(value)) == json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    assert json.loads(json_text(value))["at"] == "2026-11-01T10:30:15.123Z"
