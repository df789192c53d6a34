import datetime as dt
import re
from decimal import Decimal

import pytest

from commissions.models import CommissionEntry
from integrations.models import InboundStatus, MappingVersion
from integrations.tests.factories import SourceFactory
from tracking.tests.factories import ClickFactory, ConversionEventFactory, CustomerFactory

from .conftest import T0
from .factories import AlertFactory, InboundEventFactory

pytestmark = pytest.mark.django_db


def svg_points(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'class="monitoring-chart"[^>]*data-points="(\d+)"', html)]


def test_dashboard_shows_programme_figures_alerts_sources_and_charts(client, manager, traveller):
    # given today: 2 clicks, a registration and an FTD of 50.00 and revenue 120.00 from a live source,
    # and an FTD from a source in test mode (never counted as business)
    traveller(T0)
    live = SourceFactory(slug="live", name="Live CRM")
    staging = SourceFactory(slug="staging", name="Staging CRM", test_mode=True)
    customer = CustomerFactory(affiliate__name="Top Partner Ltd")
    ClickFactory.create_batch(2)
    kw = {"source": live, "brand": customer.brand, "customer": customer, "occurred_at": T0}
    ConversionEventFactory(type="registration", amount=None, amount_base=None, **kw)
    ConversionEventFactory(type="ftd", amount=Decimal("50.00"), **kw)
    ConversionEventFactory(type="revenue", amount=Decimal("120.00"), **kw)
    ConversionEventFactory(source=staging, type="ftd", is_test=True, occurred_at=T0)
    for n, (kind, status, amount) in enumerate(
        [("cpa", "approved", "200.00"), ("cpa", "rejected", "80.00"), ("reversal", "approved", "-50.00")]
    ):
        CommissionEntry.objects.create(
            slot=f"s{n}", kind=kind, status=status, affiliate=customer.affiliate, brand=customer.brand,
            amount=Decimal(amount), currency="EUR", period="2026-11", occurred_at=T0, explanation="test",
        )  # fmt: skip
    AlertFactory(source=live, title="Live CRM: 20.00% of 50 events rejected", severity="warning")
    InboundEventFactory(source=live, received_at=T0)
    client.force_login(manager)
    # when the manager opens the admin home
    html = client.get("/admin/").content.decode()
    # then
    assert 'id="programme-dashboard"' in html
    today = html.split("<h2>Today</h2>")[1].split("<h2>This month</h2>")[0]
    assert re.search(r"Clicks</div><div class=\"value\">2<", today)
    assert re.search(r"FTDs</div><div class=\"value\">1<", today)
    assert re.search(r"Revenue</div><div class=\"value\">120.00<", today)
    assert re.search(r"Commission</div><div class=\"value\">\s*150.00 EUR", today)
    assert "Test-mode events" in today
    assert "Top Partner Ltd" in html
    assert "Live CRM: 20.00% of 50 events rejected" in html
    assert "TEST MODE" in html
    assert 'class="badge badge-warning">warning' in html
    assert len(svg_points(html)) == 2 and all(n > 0 for n in svg_points(html))
    assert "cdn" not in html.lower() and '<script src="http' not in html


def test_health_page_shows_flow_rejections_lag_drift_mapping_and_test_mode(client, manager, traveller):
    traveller(T0)
    source = SourceFactory(slug="crm", name="CRM", test_mode=True, mapping={"fields": {"event_id": "id"}})
    for i in range(3):
        InboundEventFactory(source=source, received_at=T0 - dt.timedelta(hours=i), payload={"id": str(i), "x": "1"})
    InboundEventFactory(
        source=source,
        received_at=T0 - dt.timedelta(minutes=5),
        status=InboundStatus.REJECTED,
        reason_code="unknown_event_type",
        reason_detail="unknown event type 'bonus'",
        payload={"id": "9"},
    )
    ConversionEventFactory(source=source, brand=source.brand, type="ftd", occurred_at=T0 - dt.timedelta(hours=2))
    MappingVersion.objects.create(source=source, version=1, mapping={"fields": {"event_id": "eid"}})
    MappingVersion.objects.create(source=source, version=2, mapping={"fields": {"event_id": "id"}})
    client.force_login(manager)
    html = client.get(f"/admin/monitoring/alert/health/{source.pk}/").content.decode()
    assert "TEST MODE" in html and "create no payable commission" in html
    assert "unknown_event_type" in html and "unknown event type &#x27;bonus&#x27;" in html
    assert "ftd" in html
    assert '<span class="del">-    &quot;event_id&quot;: &quot;eid&quot;</span>' in html
    assert '<span class="add">+    &quot;event_id&quot;: &quot;id&quot;</span>' in html
    assert ">x<" in html  # a payload field the mapping does not read
    assert svg_points(html) and svg_points(html)[0] >= 48


def test_health_page_of_unknown_source_is_404_and_needs_staff(client, manager):
    assert client.get("/admin/monitoring/alert/health/1/").status_code == 302  # to the login page
    client.force_login(manager)
    assert client.get("/admin/monitoring/alert/health/999999/").status_code == 404


def test_admin_lists_and_resolves_alerts(client, manager, announced):
    alert = AlertFactory()
    client.force_login(manager)
    assert client.get("/admin/monitoring/alert/").status_code == 200
    assert client.get(f"/admin/monitoring/alert/{alert.pk}/change/").status_code == 200
    client.post("/admin/monitoring/alert/", {"action": "resolve_now", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert [c["type"] for c in announced] == ["alert.resolved"]
    assert client.get("/admin/monitoring/alertrule/add/").status_code == 200
