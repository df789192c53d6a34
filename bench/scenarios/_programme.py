"""The little programme every scenario shares: one casino brand, one active affiliate, one link."""

import secrets

from affiliates import services as affiliate_services
from affiliates.choices import AffiliateStatus
from affiliates.models import Affiliate, Brand
from tracking.models import TrackingLink

BROWSER_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    ),
    "Referer": "https://news.example.org/best-casinos",
    "Accept-Language": "de-DE,de;q=0.9,en;q=0.8",
}


def brand() -> Brand:
    found = Brand.objects.filter(slug="bench-casino").first()
    return found or Brand.objects.create(slug="bench-casino", name="Bench Casino", currency="EUR", timezone="UTC")


def affiliate() -> Affiliate:
    found = Affiliate.objects.filter(email="bench-partner@example.com").first()
    return found or affiliate_services.affiliate_create(
        name="Bench Partner", email="bench-partner@example.com", status=AffiliateStatus.ACTIVE, country="DE"
    )


def tracking_link() -> TrackingLink:
    found = TrackingLink.objects.filter(name="bench").first()
    return found or TrackingLink.objects.create(
        token=secrets.token_urlsafe(16),
        name="bench",
        affiliate=affiliate(),
        brand=brand(),
        landing_url="https://casino.example.com/welcome?lang=en",
    )
