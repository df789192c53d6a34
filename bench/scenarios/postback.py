"""GET /postback/<source>/?key=…&type=ftd&event_id=<unique>…: store and accept (issue 4: 80% of the ceiling)."""

from urllib.parse import urlencode

from bench.spec import RequestSpec
from core.keys import api_key_create
from integrations.models import InboundEvent, Source

from ._programme import brand, tracking_link

DESCRIPTION = "S2S postback with the source key in the query, unique event id per request"
SOURCE_SLUG = "bench-crm"


def source() -> Source:
    found = Source.objects.filter(slug=SOURCE_SLUG).first()
    # The rate limit is lifted: the benchmark measures throughput, not the limiter's 429s.
    return found or Source.objects.create(
        slug=SOURCE_SLUG, name="Bench CRM", brand=brand(), rate_limit_per_minute=2_000_000_000
    )


def setup() -> RequestSpec:
    src = source()
    _, key = api_key_create(name="bench postback", scope="source", source=src)
    fixed = urlencode(
        {
            "key": key,
            "type": "ftd",
            "amount": "50.00",
            "currency": "EUR",
            "occurred_at": "2026-11-28T10:00:00+00:00",
            "tracking_token": tracking_link().token,
        }
    )
    return RequestSpec(
        path=f"/postback/{src.slug}/?{fixed}&event_id=pb-{{uid}}&customer_id=cust-{{uid}}",
        expect_status=(202,),
        count_stored=InboundEvent.objects.filter(source=src).count,
        target_ratio=0.8,
    )
