"""GET /t/<token>?sub1=…&sub2=…: record a click and answer 302 (issue 3: at least 80% of the ceiling)."""

from bench.spec import RequestSpec
from tracking.models import Click

from ._programme import BROWSER_HEADERS, tracking_link

DESCRIPTION = "tracking redirect: one Click row, 302 to the landing page"


def setup() -> RequestSpec:
    link = tracking_link()
    return RequestSpec(
        path=f"/t/{link.token}?sub1=summer-promo&sub2={{uid}}",
        headers=BROWSER_HEADERS,
        expect_status=(302,),
        count_stored=Click.objects.count,
        target_ratio=0.8,
    )
