"""GET /api/partner/v1/unattributed: a partner's own clicks, links and promo codes that led to a customer credited
to nobody, with the reason; never another partner's."""

import datetime as dt
from types import SimpleNamespace

import pytest

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from tracking.tests.factories import ClickFactory, PromoCodeFactory, TrackingLinkFactory
from tracking.tests.test_attribution_outcomes import NOW, send

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_ingestion")]
URL = "/api/partner/v1/unattributed"


@pytest.fixture
def world():
    from integrations.services import source_create

    brand = BrandFactory(slug="lucky", attribution_window_days=30)
    source, raw = source_create(slug="lucky-crm", name="Lucky CRM", brand=brand)
    source.raw_key = raw
    mine, theirs = AffiliateFactory(name="Mine"), AffiliateFactory(name="Theirs")
    my_link = TrackingLinkFactory(brand=brand, affiliate=mine)
    their_link = TrackingLinkFactory(brand=brand, affiliate=theirs)
    # My click came in 3 hours after the registration was dated (an operator backfill).
    ClickFactory(link=my_link, click_id="my-late", created_at=NOW + dt.timedelta(hours=3), sub1="fb", sub2="ad-7")
    ClickFactory(link=their_link, click_id="their-late", created_at=NOW + dt.timedelta(hours=3))
    send("postback", source, {"click_id": "my-late"}, customer="A")
    send("postback", source, {"click_id": "their-late"}, customer="B")
    return SimpleNamespace(brand=brand, source=source, mine=mine, theirs=theirs)


def test_partner_sees_its_own_click_that_led_to_an_unattributed_registration_with_the_reason(api, world):
    mine = world.mine

    response = api("partner", affiliate=mine).get(URL)

    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    assert (row["brand"], row["hint"], row["value"], row["reason"]) == (
        "lucky",
        "click_id",
        "my-late",
        "click_after_event",
    )
    assert row["message"].startswith("Click 'my-late' was made 3 hours after the event")
    assert row["delta_seconds"] == 3 * 3600
    assert row["occurred_at"] == "2026-11-20T12:00:00Z"
    assert row["registered_at"] == "2026-11-20T12:00:00Z"
    assert (row["click"]["click_id"], row["click"]["sub1"], row["click"]["sub2"]) == ("my-late", "fb", "ad-7")
    assert row["click"]["created_at"] == "2026-11-20T15:00:00Z"


def test_another_partners_clicks_are_never_visible(api, world):
    mine, theirs = world.mine, world.theirs
    client = api("partner", affiliate=theirs)

    rows = client.get(URL).json()["results"]

    assert [r["value"] for r in rows] == ["their-late"]
    mine_id = api("partner", affiliate=mine).get(URL).json()["results"][0]["id"]
    assert client.get(f"{URL}/{mine_id}").status_code == 404


def test_promo_codes_and_disabled_links_of_the_partner_are_listed_too(api, world):
    brand, source, mine = world.brand, world.source, world.mine
    PromoCodeFactory(brand=brand, affiliate=mine, code="MINE10", is_active=False)
    TrackingLinkFactory(brand=brand, affiliate=mine, token="my-old-link", is_active=False)
    send("api", source, {"promo_code": "MINE10"}, customer="C")
    send("api", source, {"tracking_token": "my-old-link"}, customer="D")

    rows = api("partner", affiliate=mine).get(URL).json()["results"]

    assert sorted(r["reason"] for r in rows) == ["click_after_event", "link_inactive", "promo_expired"]
    assert api("partner", affiliate=mine).get(f"{URL}?reason=promo_expired").json()["results"][0]["value"] == "MINE10"


def test_a_customer_attributed_later_leaves_the_list(api, world):
    brand, source, mine, theirs = world.brand, world.source, world.mine, world.theirs
    link = TrackingLinkFactory(brand=brand, affiliate=theirs)

    send("api", source, {"tracking_token": link.token}, customer="A", occurred_at=NOW + dt.timedelta(days=1))

    assert api("partner", affiliate=mine).get(URL).json()["results"] == []


def test_unknown_hints_belong_to_no_partner(api, world):
    source, mine = world.source, world.mine
    send("api", source, {"click_id": "nobody"}, customer="E")

    assert [r["value"] for r in api("partner", affiliate=mine).get(URL).json()["results"]] == ["my-late"]


def test_range_and_reason_filters_are_validated(api, world):
    mine = world.mine
    client = api("partner", affiliate=mine)

    assert client.get(f"{URL}?from=2026-11-21").json()["results"] == []
    assert len(client.get(f"{URL}?from=2026-11-20&to=2026-11-20").json()["results"]) == 1
    bad = client.get(f"{URL}?reason=bogus")
    assert bad.status_code == 400 and bad["Content-Type"].startswith("application/problem+json")
    assert client.get(f"{URL}?from=yesterday").status_code == 400


def test_only_partner_keys_read_it(api, world, client):
    assert api("management").get(URL).status_code == 403
    assert client.get(URL).status_code == 401


def portal_as(client, affiliate):
    from core.models import User

    user = User.objects.create_user(username=f"user-{affiliate.pk}", password="x")
    affiliate.user = user
    affiliate.save(update_fields=["user"])
    client.force_login(user)
    return client


def test_portal_page_shows_the_partners_own_untagged_customers_with_the_reason(client, world):
    page = portal_as(client, world.mine).get("/portal/customers/unattributed/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "my-late" in html and "click_after_event" in html
    assert "was made 3 hours after the event" in html
    assert "2026-11-20 15:00 UTC" in html  # when the partner's click was recorded
    assert "their-late" not in html
    # the customer by the portal's pseudonym, never the operator's id
    from portal.reports import anonymised_id
    from tracking.models import AttributionMiss

    customer = AttributionMiss.objects.get(value="my-late").customer
    assert f"<code>{anonymised_id(customer)[:12]}</code>" in html
    assert f">{customer.external_id}<" not in html


def test_portal_page_filters_by_reason_and_ignores_an_unknown_one(client, world):
    portal = portal_as(client, world.mine)

    assert "my-late" not in portal.get("/portal/customers/unattributed/?reason=promo_unknown").content.decode()
    assert "my-late" in portal.get("/portal/customers/unattributed/?reason=bogus").content.decode()


def test_portal_page_of_the_other_partner_lists_only_theirs(client, world):
    html = portal_as(client, world.theirs).get("/portal/customers/unattributed/").content.decode()

    assert "their-late" in html and "my-late" not in html
