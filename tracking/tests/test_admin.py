import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from tracking import admin as tracking_admin
from tracking.models import Click, CustomerReassignment, PromoCode, TrackingLink
from tracking.tests.factories import ClickFactory, CustomerFactory, PromoCodeFactory, TrackingLinkFactory

pytestmark = pytest.mark.django_db


def test_click_list_filters_and_searches_without_counting_the_table(admin_client, django_assert_max_num_queries):
    click = ClickFactory(sub2="camp-7", country="DE")
    ClickFactory(flag="bot", is_billable=False)
    url = reverse("admin:tracking_click_changelist")

    for query in (
        "",
        f"q={click.click_id}",
        "q=camp-7",
        f"affiliate__id__exact={click.affiliate_id}",
        "flag=bot",
        "is_billable__exact=0",
        "country=de",
        "sub=camp-7",
        "created_at_from_0=2020-01-01&created_at_from_1=00:00&created_at_to_0=2099-01-01&created_at_to_1=00:00",
    ):
        response = admin_client.get(f"{url}?{query}")
        assert response.status_code == 200, query

    response = admin_client.get(f"{url}?q={click.click_id}")
    assert click.click_id in response.content.decode()
    assert response.context["cl"].show_full_result_count is False


def test_click_detail_is_read_only(admin_client):
    click = ClickFactory()

    response = admin_client.get(reverse("admin:tracking_click_change", args=[click.pk]))

    assert response.status_code == 200
    assert admin_client.post(reverse("admin:tracking_click_add")).status_code == 403


def test_manager_creates_a_link_in_the_admin_and_gets_a_token(admin_client):
    brand, affiliate = BrandFactory(), AffiliateFactory()

    response = admin_client.post(
        reverse("admin:tracking_trackinglink_add"),
        {
            "affiliate": affiliate.pk,
            "brand": brand.pk,
            "name": "Banner",
            "landing_url": "https://a.example/x",
            "is_active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    link = TrackingLink.objects.get()
    assert len(link.token) == 22 and link.is_active


def test_admin_refuses_a_javascript_landing_url(admin_client):
    response = admin_client.post(
        reverse("admin:tracking_trackinglink_add"),
        {"affiliate": AffiliateFactory().pk, "brand": BrandFactory().pk, "landing_url": "javascript:alert(1)"},
    )

    assert response.status_code == 200
    assert "landing_url" in response.context["adminform"].form.errors
    assert not TrackingLink.objects.exists()


def test_disable_action_disables_links(admin_client):
    link = TrackingLinkFactory()

    admin_client.post(
        reverse("admin:tracking_trackinglink_changelist"), {"action": "disable_selected", "_selected_action": [link.pk]}
    )

    link.refresh_from_db()
    assert not link.is_active


def test_promo_code_duplicate_in_another_case_is_a_form_error(admin_client):
    existing = PromoCodeFactory(code="Welcome")

    response = admin_client.post(
        reverse("admin:tracking_promocode_add"),
        {"brand": existing.brand_id, "affiliate": AffiliateFactory().pk, "code": "WELCOME", "is_active": "on"},
    )

    assert response.status_code == 200
    assert PromoCode.objects.count() == 1


def test_reassign_needs_a_reason_and_is_audited(admin_client, admin_user):
    customer = CustomerFactory()
    new = AffiliateFactory()
    url = reverse("admin:tracking_customer_reassign", args=[customer.pk])

    assert admin_client.get(url).status_code == 200
    refused = admin_client.post(url, {"affiliate": new.pk, "reason": "   "})
    assert refused.status_code == 200
    assert not CustomerReassignment.objects.exists()

    done = admin_client.post(url, {"affiliate": new.pk, "reason": "Signed affidavit"})

    assert done.status_code == 302
    audit = CustomerReassignment.objects.get()
    assert (audit.to_affiliate, audit.reason, audit.changed_by) == (new, "Signed affidavit", admin_user)


def test_customer_pages_show_conflicts_and_reassignments(admin_client):
    customer = CustomerFactory()
    customer.attribution_conflicts.create(method="promo_code", value="RIVAL")

    listing = admin_client.get(reverse("admin:tracking_customer_changelist") + "?country=de")
    detail = admin_client.get(reverse("admin:tracking_customer_change", args=[customer.pk]))

    assert listing.status_code == 200 and customer.external_id in listing.content.decode()
    assert detail.status_code == 200 and "RIVAL" in detail.content.decode()
    assert Click.objects.count() == 0


def test_editing_a_link_changes_only_its_name_and_state(admin_client):
    link = TrackingLinkFactory(name="Old")

    response = admin_client.post(
        reverse("admin:tracking_trackinglink_change", args=[link.pk]),
        {"name": "New", "landing_url": "https://elsewhere.example/"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    link.refresh_from_db()
    assert (link.name, link.is_active, link.landing_url) == ("New", False, "https://casino.example.com/welcome?lang=en")


def test_small_click_lists_are_counted_exactly():
    ClickFactory.create_batch(3)

    assert tracking_admin.EstimatedCountPaginator(Click.objects.order_by("-pk"), 50).count == 3


@pytest.mark.postgres
def test_huge_click_lists_use_the_planner_estimate_not_a_count(monkeypatch):
    ClickFactory.create_batch(3)
    monkeypatch.setattr(tracking_admin, "COUNT_CAP", 0)

    with CaptureQueriesContext(connection) as queries:
        count = tracking_admin.EstimatedCountPaginator(Click.objects.order_by("-pk"), 50).count

    assert count > 0
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
