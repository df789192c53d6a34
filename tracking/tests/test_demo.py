import pytest

from affiliates.choices import AffiliateStatus
from affiliates.tests.factories import AffiliateFactory, BrandFactory
from tracking import demo
from tracking.models import AttributionConflict, AttributionMiss, Click, Customer, CustomerReassignment, TrackingLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx():
    """The shape affiliates.demo hands over, built from factories (its own seed hashes demo passwords: slow)."""
    brands = {
        slug: BrandFactory(slug=slug, website=f"https://{slug}.example") for slug in {b for _, b, _, _ in demo.LINKS}
    }
    names = {name for name, _, _, _ in demo.LINKS} | {name for name, _, _ in demo.PROMO_CODES}
    affiliates = {
        name: AffiliateFactory(
            name=name, status=AffiliateStatus.SUSPENDED if name == "Spin Deals" else AffiliateStatus.ACTIVE
        )
        for name in sorted(names)
    }
    return {"brands": brands, "affiliates": affiliates, "deals": {}, "manager": None, "admin": None}


def test_demo_seeds_links_clicks_customers_and_is_repeatable(ctx):
    lines = demo.seed(ctx)
    counts = (TrackingLink.objects.count(), Click.objects.count(), Customer.objects.count())
    again = demo.seed(ctx)

    assert lines and again
    assert counts == (TrackingLink.objects.count(), Click.objects.count(), Customer.objects.count())
    assert counts[0] == len(demo.LINKS)
    assert Click.objects.filter(flag="bot").exists()
    assert Click.objects.filter(flag="duplicate").exists()
    assert Click.objects.filter(flag="affiliate_inactive").exists()
    assert Customer.objects.filter(attribution_method="click_id").exists()
    assert Customer.objects.filter(attribution_method="promo_code").exists()
    assert AttributionConflict.objects.count() == 1
    reasons = dict(AttributionMiss.objects.values_list("customer__external_id", "reason"))
    assert reasons == {"UNTAGGED-1": "click_after_event", "UNTAGGED-2": "other_brand", "UNTAGGED-3": "promo_unknown"}
    assert CustomerReassignment.objects.count() == 1
