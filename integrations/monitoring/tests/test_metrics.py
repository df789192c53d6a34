import datetime as dt
from decimal import Decimal

import pytest

from integrations.models import InboundStatus
from integrations.monitoring import metrics
from integrations.tests.factories import SourceFactory

from .conftest import T0
from .factories import InboundEventFactory

pytestmark = pytest.mark.django_db


def _source(age: dt.timedelta, **kwargs):
    source = SourceFactory(**kwargs)
    type(source).objects.filter(pk=source.pk).update(created_at=T0 - age)
    source.refresh_from_db()
    return source


def test_hourly_volume_carries_the_mean_of_the_same_hour_in_weeks_the_source_existed():
    # given a source three weeks old, with 10 and 20 events at 10:00 one and two weeks ago
    source = _source(dt.timedelta(weeks=3))
    hour = T0.replace(minute=0)
    for k, n in ((1, 10), (2, 20)):
        for i in range(n):
            InboundEventFactory(source=source, received_at=hour - dt.timedelta(weeks=k) + dt.timedelta(seconds=i))
    InboundEventFactory(source=source, received_at=hour + dt.timedelta(minutes=5))
    # when the health page asks for the last 3 hours against 4 weeks
    rows = metrics.volume_with_baseline(source=source, now=T0, hours=3, weeks=4)
    # then the 10:00 hour has 1 event against (10 + 20 + 0) / 3 weeks, and agrees with the alert's baseline
    assert [r["hour"].hour for r in rows] == [8, 9, 10]
    assert (rows[2]["count"], rows[2]["baseline"]) == (1, Decimal("10.00"))
    assert rows[0]["baseline"] == Decimal("0.00")
    assert metrics.baseline_for_hour(source=source, hour=hour, weeks=4) == Decimal("10.00")


def test_a_new_source_has_no_baseline():
    source = _source(dt.timedelta(days=2))
    assert all(r["baseline"] is None for r in metrics.volume_with_baseline(source=source, now=T0, hours=3, weeks=4))


def test_processing_lag_percentiles_and_oldest_waiting():
    source = _source(dt.timedelta(days=1))
    for seconds in (1, 2, 3, 4, 100):
        InboundEventFactory(
            source=source,
            received_at=T0 - dt.timedelta(minutes=10),
            processed_at=T0 - dt.timedelta(minutes=10) + dt.timedelta(seconds=seconds),
        )
    InboundEventFactory(source=source, received_at=T0 - dt.timedelta(seconds=42), status=InboundStatus.RECEIVED)
    lag = metrics.processing_lag(source=source, since=T0 - dt.timedelta(hours=1), now=T0)
    assert (lag["p50"], lag["p95"], lag["max"], lag["oldest_waiting"]) == (3.0, 100.0, 100.0, 42.0)


def test_unknown_fields_are_those_the_mapping_does_not_read():
    source = _source(
        dt.timedelta(days=1),
        mapping={"fields": {"event_id": "id", "amount": {"path": "money.amt"}}, "id_fields": ["player"]},
    )
    InboundEventFactory(
        source=source,
        received_at=T0,
        payload={"id": "1", "money": {"amt": "5", "cur": "EUR"}, "player": "P", "campaign": "x"},
    )
    fields = metrics.unknown_fields(source=source, since=T0 - dt.timedelta(hours=1), until=T0 + dt.timedelta(1))
    assert [f["field"] for f in fields] == ["campaign", "money.cur"]


def test_flatten_fields_names_json_types():
    assert metrics.flatten_fields({"a": 1, "b": {"c": "x", "d": None}, "e": [1], "f": True, "g": {}}) == {
        "a": "number", "b.c": "string", "b.d": "null", "e": "array", "f": "boolean", "g": "object",
    }  # fmt: skip


def test_volume_per_type_against_the_same_day_in_previous_weeks(traveller):
    from tracking.tests.factories import ConversionEventFactory

    source = _source(dt.timedelta(weeks=2, days=1))
    for k, n in ((1, 4), (2, 2)):
        traveller(T0 - dt.timedelta(weeks=k, hours=1))
        for _ in range(n):
            ConversionEventFactory(source=source, brand=source.brand, type="ftd")
    traveller(T0 - dt.timedelta(hours=2))
    ConversionEventFactory(source=source, brand=source.brand, type="ftd")
    ConversionEventFactory(source=source, brand=source.brand, type="registration")
    volumes = metrics.type_volume_with_baseline(source=source, now=T0, weeks=4)
    assert volumes == {
        "ftd": {"count_24h": 1, "baseline_24h": Decimal("3.0")},
        "registration": {"count_24h": 1, "baseline_24h": Decimal("0.0")},
    }


def test_mapped_paths_include_path_lists_type_overrides_and_conditional_type_fields():
    mapping = {
        "fields": {"event_id": {"path": ["id", "deal_id"]}, "type": "kind"},
        "type_fields": {"trade": {"data.lots": {"path": "Volume", "divide": 10000}}},
        "event_types": {"purchase": {"field": "product", "cases": [{"prefix": "reset", "type": "reset_fee"}]}},
        "id_fields": ["player"],
    }
    assert metrics.mapped_paths(mapping) == {"id", "deal_id", "kind", "Volume", "product", "player"}
