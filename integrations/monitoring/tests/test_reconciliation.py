import datetime as dt
from decimal import Decimal

import pytest

from integrations.models import InboundStatus
from integrations.monitoring.models import Granularity, ReconciliationRun
from integrations.monitoring.reconciliation import ReconciliationError, parse_totals, reconciliation_create
from tracking.tests.factories import ConversionEventFactory, CustomerFactory

from .factories import InboundEventFactory

pytestmark = pytest.mark.django_db

NOV1 = dt.date(2026, 11, 1)
NOV30 = dt.date(2026, 11, 30)


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def source(db):
    from integrations.tests.factories import SourceFactory

    return SourceFactory(slug="casino", brand__timezone="Europe/Malta")


def event(source, customer, type_, amount, when, ext):
    return ConversionEventFactory(
        source=source,
        brand=source.brand,
        customer=customer,
        type=type_,
        amount=Decimal(amount),
        amount_base=Decimal(amount),
        occurred_at=when,
        external_id=ext,
    )


def test_per_customer_totals_show_missing_and_extra_down_to_the_events(source):
    # given P-1 with an FTD of 50.00 and a deposit of 25.00; P-3 only here; P-2 only there
    p1 = CustomerFactory(brand=source.brand, external_id="P-1")
    p3 = CustomerFactory(brand=source.brand, external_id="P-3")
    event(source, p1, "ftd", "50.00", at(3), "E1")
    event(source, p1, "deposit", "25.00", at(4), "E2")
    event(source, p3, "ftd", "20.00", at(5), "E3")
    event(source, p1, "deposit", "99.00", at(2, 0) - dt.timedelta(days=2), "E-october")  # outside the period
    InboundEventFactory(
        source=source,
        received_at=at(6),
        status=InboundStatus.REJECTED,
        reason_code="invalid_amount",
        payload={"customer_id": "P-1", "type": "deposit", "amount": "abc"},
    )
    csv = b"customer_id,ftds,deposits,revenue\nP-1,1,100.00,0\nP-2,1,30.00,-12.50\n"
    # when the operator's per-customer totals for November are reconciled
    run = reconciliation_create(
        source=source, granularity=Granularity.CUSTOMER, period_start=NOV1, period_end=NOV30, content=csv
    )
    # then each difference is a line with the events behind it
    lines = {ln["key"]: ln for ln in run.lines}
    assert set(lines) == {"P-1", "P-2", "P-3"}
    assert lines["P-1"]["deposits"] == {"theirs": "100.00", "ours": "75.00", "diff": "-25.00"}
    assert lines["P-1"]["ftds"]["diff"] == "0"
    assert [e["external_id"] for e in lines["P-1"]["events"]] == ["E1", "E2"]
    assert lines["P-1"]["rejected"][0]["reason"] == "invalid_amount"
    assert lines["P-2"]["only"] == "theirs" and lines["P-2"]["revenue"]["diff"] == "12.50"
    assert lines["P-3"]["only"] == "ours" and lines["P-3"]["events"][0]["external_id"] == "E3"
    assert run.summary["totals"]["deposits"] == {"theirs": "130.00", "ours": "95.00", "diff": "-35.00"}
    assert (run.summary["missing_here"], run.summary["extra_here"], run.summary["lines_with_differences"]) == (1, 1, 3)


def test_per_day_totals_use_the_brand_time_zone(source):
    c = CustomerFactory(brand=source.brand, external_id="P-9")
    # 23:30 UTC on 2 Nov is 00:30 on 3 Nov in Malta
    event(source, c, "ftd", "40.00", dt.datetime(2026, 11, 2, 23, 30, tzinfo=dt.UTC), "L1")
    csv = b"date,ftds,deposits\n2026-11-03,1,40.00\n2026-11-04,0,0\n"
    run = reconciliation_create(
        source=source, granularity=Granularity.DAY, period_start=NOV1, period_end=NOV30, content=csv
    )
    assert [ln["key"] for ln in run.lines] == ["2026-11-03", "2026-11-04"]
    assert not any(ln["differs"] for ln in run.lines)
    assert run.summary["lines_with_differences"] == 0


def test_semicolon_csv_with_bom_and_base_currency_column_is_read(source):
    totals = parse_totals(
        content="\ufeffcustomer_id;deposits;currency\nP-1;10.50;eur\n".encode(),
        granularity=Granularity.CUSTOMER,
        period_start=NOV1,
        period_end=NOV30,
    )
    assert totals == {"P-1": {"deposits": Decimal("10.50")}}


@pytest.mark.parametrize(
    ("content", "granularity", "message"),
    [
        (b"", "customer", "empty"),
        (b"customer_id,ftds\n", "customer", "no rows"),
        (b"date,ftds\n2026-11-01,1\n", "customer", "needs a 'customer_id' column"),
        (b"customer_id,ftds,bonus\nP-1,1,5\n", "customer", "Unknown columns: bonus"),
        (b"customer_id\nP-1\n", "customer", "No totals"),
        (b"customer_id,deposits\nP-1,1e5\n", "customer", "'1e5' is not an amount"),
        (b"customer_id,deposits\nP-1,NaN\n", "customer", "'NaN' is not an amount"),
        (b"customer_id,deposits\nP-1,10.001\n", "customer", "'10.001' is not an amount"),
        (b"customer_id,ftds\nP-1,-1\n", "customer", "'-1' is not a whole number"),
        (b"customer_id,ftds\nP-1,1.5\n", "customer", "'1.5' is not a whole number"),
        (b"customer_id,ftds\nP-1,1\nP-1,2\n", "customer", "'P-1' appears twice"),
        (b"customer_id,ftds\n,1\n", "customer", "Empty customer_id"),
        (b"customer_id,ftds\nP-1,1,9\n", "customer", "3 cells, the header has 2"),
        (b"customer_id,deposits,currency\nP-1,10.00,USD\n", "customer", "not USD"),
        (b"date,ftds\n01/11/2026,1\n", "day", "is not a date"),
        (b"date,ftds\n2026-12-01,1\n", "day", "outside the period"),
        (b"customer_id,ftds,ftds\nP-1,1,1\n", "customer", "named twice"),
        ("customer_id,ftds\nP-1,1\n".encode("utf-16"), "customer", "not UTF-8"),
    ],
)
def test_bad_csv_is_refused_with_line_and_reason_and_nothing_is_stored(source, content, granularity, message):
    with pytest.raises(ReconciliationError) as exc:
        reconciliation_create(
            source=source, granularity=granularity, period_start=NOV1, period_end=NOV30, content=content
        )
    assert any(message in e["message"] for e in exc.value.errors), exc.value.errors
    assert all({"line", "field", "message"} <= set(e) for e in exc.value.errors)
    assert ReconciliationRun.objects.count() == 0


def test_every_bad_row_is_reported_not_only_the_first(source):
    with pytest.raises(ReconciliationError) as exc:
        parse_totals(
            content=b"customer_id,ftds,deposits\nP-1,x,1.00\nP-2,1,y\nP-3,1,1.00\n",
            granularity="customer",
            period_start=NOV1,
            period_end=NOV30,
        )
    assert [(e["line"], e["field"]) for e in exc.value.errors] == [(2, "ftds"), (3, "deposits")]


def test_oversized_file_and_reversed_period_are_refused(source):
    with pytest.raises(ReconciliationError, match="larger than 5 MiB"):
        parse_totals(content=b"x" * (5 * 1024 * 1024 + 1), granularity="day", period_start=NOV1, period_end=NOV30)
    with pytest.raises(ReconciliationError, match="ends before it starts"):
        parse_totals(content=b"date,ftds\n", granularity="day", period_start=NOV30, period_end=NOV1)


def test_admin_upload_page_reconciles_and_shows_errors(client, manager, source):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(manager)
    url = "/admin/monitoring/reconciliationrun/add/"
    assert client.get(url).status_code == 200
    bad = client.post(
        url,
        {
            "source": source.pk,
            "granularity": "customer",
            "period_start": "2026-11-01",
            "period_end": "2026-11-30",
            "file": SimpleUploadedFile("t.csv", b"customer_id,ftds\nP-1,abc\n"),
        },
    )
    assert bad.status_code == 200 and b"line 2, ftds" in bad.content
    good = client.post(
        url,
        {
            "source": source.pk,
            "granularity": "customer",
            "period_start": "2026-11-01",
            "period_end": "2026-11-30",
            "file": SimpleUploadedFile("t.csv", b"customer_id,ftds\nP-1,1\n"),
        },
    )
    run = ReconciliationRun.objects.get()
    assert good.status_code == 302 and good["Location"].endswith(f"/reconciliationrun/{run.pk}/change/")
    page = client.get(good["Location"])
    assert page.status_code == 200 and b"missing here" in page.content
