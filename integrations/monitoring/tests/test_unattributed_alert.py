"""The share of customers with hints credited to nobody, per source, against its own baseline: the alert opens
when it rises, with the reasons, and resolves when it falls back (the clock moved by time-machine)."""

import datetime as dt
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from integrations.monitoring import metrics, services
from integrations.monitoring.models import Alert, AlertKind, AlertRule, Severity
from integrations.services import source_create
from tracking.tests.factories import ClickFactory, ConversionEventFactory, CustomerFactory

from .conftest import T0

pytestmark = pytest.mark.django_db


def hinted(source, n, *, unattributed: int, start: str = "c"):
    """`n` registrations from `source` that carried a click id, `unattributed` of them credited to nobody."""
    for i in range(n):
        credited = i >= unattributed
        customer = CustomerFactory(
            brand=source.brand,
            external_id=f"{start}-{timezone.now():%s}-{i}",
            **({} if credited else {"affiliate": None}),
        )
        ConversionEventFactory(
            source=source, customer=customer, type="registration", amount=None, currency="", amount_base=None,
            hints={"click_id": f"clk-{i}"}, affiliate=customer.affiliate, occurred_at=timezone.now(),
        )  # fmt: skip


@pytest.fixture
def evaluate(django_capture_on_commit_callbacks, announced, manager):
    def run(source):
        with django_capture_on_commit_callbacks(execute=True):
            return services.alerts_evaluate_source(source=source, now=timezone.now())

    return run


def open_alerts(source):
    return list(Alert.objects.filter(source=source, kind=AlertKind.UNATTRIBUTED_SHARE, resolved_at__isnull=True))


def test_share_rising_against_its_baseline_opens_an_alert_that_resolves_when_it_falls_back(
    old_source, traveller, evaluate, announced
):
    # Given a week in which 1 of 30 customers with hints stayed unattributed (3.33 %)
    traveller(T0 - dt.timedelta(days=3))
    hinted(old_source, 30, unattributed=1, start="base")
    # When in the last 24 hours 9 of 30 did (30 %)
    traveller(T0 - dt.timedelta(hours=2))
    hinted(old_source, 30, unattributed=9, start="now")
    traveller(T0)
    evaluate(old_source)
    # Then one alert is open with the figures
    [alert] = open_alerts(old_source)
    assert alert.severity == Severity.WARNING
    assert alert.details["share"] == "30.00" and alert.details["baseline_share"] == "3.33"
    assert (alert.details["customers"], alert.details["unattributed"]) == (30, 9)
    assert alert.title == (
        "Casino CRM: 30.00% of 30 customers with hints credited to nobody in 24 hours, against 3.33% before"
    )
    assert [a["type"] for a in announced] == ["alert.raised"]
    # When the cause is fixed and the next day's customers are all attributed
    traveller.move(hours=25)
    hinted(old_source, 30, unattributed=0, start="after")
    evaluate(old_source)
    # Then it resolves itself
    alert.refresh_from_db()
    assert alert.resolved_at == T0 + dt.timedelta(hours=25)
    assert [a["type"] for a in announced] == ["alert.raised", "alert.resolved"]


def test_a_steady_share_is_no_alert_and_few_customers_are_not_judged(old_source, traveller, evaluate):
    traveller(T0 - dt.timedelta(days=3))
    hinted(old_source, 40, unattributed=10, start="base")
    traveller(T0 - dt.timedelta(hours=1))
    hinted(old_source, 40, unattributed=12, start="now")  # 30 % against 25 %: within 10 points
    traveller(T0)
    evaluate(old_source)
    assert open_alerts(old_source) == []

    other = source_create(slug="small", name="Small", brand=old_source.brand)[0]
    hinted(other, 5, unattributed=5, start="small")  # 100 %, but 5 customers are under the minimum of 20
    evaluate(other)
    assert open_alerts(other) == []


def test_the_threshold_is_tuned_per_source_and_zero_switches_it_off(old_source, traveller, evaluate):
    traveller(T0 - dt.timedelta(hours=1))
    hinted(old_source, 20, unattributed=20, start="now")
    AlertRule.objects.create(source=old_source, unattributed_rise_points=0)
    traveller(T0)
    evaluate(old_source)
    assert open_alerts(old_source) == []

    AlertRule.objects.filter(source=old_source).update(unattributed_rise_points=10)
    old_source.refresh_from_db()
    evaluate(old_source)
    [alert] = open_alerts(old_source)
    assert alert.severity == Severity.CRITICAL  # 100 % (no baseline: judged against 0 %)


def test_real_postbacks_are_counted_with_their_reasons(traveller, eager, brand_for_postbacks):
    # Given registrations through the real postback: 20 with a click made after the event, 5 attributed
    source, key = brand_for_postbacks
    traveller(T0)
    client = Client()
    for i in range(25):
        late = i < 20
        click = ClickFactory(
            link__brand=source.brand, created_at=T0 + (dt.timedelta(hours=2) if late else -dt.timedelta(hours=2))
        )
        query = {"type": "registration", "event_id": f"r{i}", "customer_id": f"P{i}", "click_id": click.click_id,
                 "occurred_at": T0.isoformat(), "key": key}  # fmt: skip
        assert client.get(f"/postback/{source.slug}/?{urlencode(query)}").status_code == 202
    traveller.move(minutes=5)
    # When monitoring measures the source
    stats = metrics.unattributed_share(source=source, since=T0 - dt.timedelta(hours=24), until=timezone.now())
    # Then the 20 untagged customers and why are counted for this source
    assert (stats["customers"], stats["unattributed"], str(stats["share"])) == (25, 20, "80.00")
    assert stats["reasons"] == {"click_after_event": 20}
    services.alerts_evaluate_source(source=source, now=timezone.now())
    [alert] = Alert.objects.filter(source=source, kind=AlertKind.UNATTRIBUTED_SHARE)
    assert "(mostly click_after_event)" in alert.title
    assert alert.details["reasons"] == {"click_after_event": 20}


@pytest.fixture
def brand_for_postbacks(db):
    from affiliates.tests.factories import BrandFactory

    source, key = source_create(slug="pb-crm", name="PB CRM", brand=BrandFactory(slug="pb"))
    return source, key


def test_health_page_shows_the_unattributed_share_with_its_reasons(client, manager, traveller, old_source):
    from tracking.models import AttributionMiss

    traveller(T0 - dt.timedelta(hours=1))
    hinted(old_source, 4, unattributed=1, start="h")
    unattributed = ConversionEventFactory._meta.model.objects.filter(source=old_source, affiliate__isnull=True).get()
    AttributionMiss.objects.create(
        customer=unattributed.customer, hint="click_id", value="clk-0", reason="click_outside_window",
        message="…", occurred_at=T0, source=old_source,
    )  # fmt: skip
    traveller(T0)
    client.force_login(manager)

    html = client.get(f"/admin/monitoring/alert/health/{old_source.pk}/").content.decode()

    assert "Unattributed with hints 24 h" in html
    assert "25.00%" in html and "1 of 4 customers: click_outside_window 1" in html
