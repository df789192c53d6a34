"""Demo tracking data: links for the demo affiliates, promo codes, a month of clicks (with bots, duplicates
and a suspended affiliate's unbilled traffic), attributed customers, one conflict and one reassignment.

Made through the tracking services and looked up first, so running it again changes nothing.
"""

import base64
import hashlib
import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .attribution import customer_resolve
from .choices import ClickFlag
from .models import Click, Customer, CustomerReassignment, PromoCode, TrackingLink
from .redirect import is_bot
from .services import click_record, customer_reassign, promo_code_create, tracking_link_create

# (affiliate name, brand slug, link name, landing path)
LINKS = [
    ("Casino Kings Media", "lucky-casino", "Homepage banner", "/welcome?lang=de"),
    ("Casino Kings Media", "lucky-casino", "Bonus review", "/promo/200-bonus#signup"),
    ("Slots Review Hub", "lucky-casino", "Slots top list", "/slots"),
    ("Bonus Hunter Blog", "lucky-casino", "Blog sidebar", "/"),
    ("Bet Insider", "lucky-casino", "Match previews", "/sports?ref=preview"),
    ("Spin Deals", "lucky-casino", "Deals page", "/"),
    ("FX Signals Pro", "atlas-fx", "Telegram channel", "/open-account"),
    ("Pip Academy", "atlas-fx", "Course landing", "/education?utm_source=pipacademy"),
    ("Funded Talk", "summit-prop", "Podcast link", "/challenge"),
    ("Prop Firm Compare", "summit-prop", "Comparison table", "/pricing"),
]
# (affiliate name, brand slug, code)
PROMO_CODES = [
    ("Casino Kings Media", "lucky-casino", "KINGS200"),
    ("Bet Insider", "lucky-casino", "INSIDER50"),
    ("Funded Talk", "summit-prop", "FUNDED10"),
]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
]
BOT_AGENTS = ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "curl/8.5.0"]
COUNTRIES = {
    "lucky-casino": ["DE", "AT", "DE", "FI", "CA"],
    "atlas-fx": ["AE", "CY", "ZA"],
    "summit-prop": ["US", "GB"],
}
CLICKS_PER_LINK = 40
REASON = "Player confirmed by support chat: came from Bet Insider."
# Customers credited to nobody although they carried a hint, each for another reason (see the customer list
# filter "unattributed, with hints"); WELCOME100 can be created for an affiliate and the customer re-run.
UNTAGGED_PROMO = "WELCOME100"


def _demo_click_id(*parts) -> str:
    """A stable click id for the demo (so a re-run finds its clicks), shaped like a real one."""
    digest = hashlib.sha256("demo:".join(map(str, parts)).encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _links(ctx) -> list[TrackingLink]:
    links = []
    for affiliate_name, slug, name, path in LINKS:
        affiliate, brand = ctx["affiliates"].get(affiliate_name), ctx["brands"].get(slug)
        if affiliate is None or brand is None:
            continue
        link = TrackingLink.objects.filter(affiliate=affiliate, brand=brand, name=name).first()
        if link is None:
            landing = (brand.website or f"https://{slug}.example").rstrip("/") + path
            link = tracking_link_create(
                affiliate=affiliate, brand=brand, landing_url=landing, name=name, created_by=ctx.get("manager")
            )
        links.append(link)
    return links


def _promo_codes(ctx) -> list[PromoCode]:
    codes = []
    for affiliate_name, slug, code in PROMO_CODES:
        affiliate, brand = ctx["affiliates"].get(affiliate_name), ctx["brands"].get(slug)
        if affiliate is None or brand is None:
            continue
        promo = PromoCode.objects.filter(brand=brand, code__iexact=code).first()
        codes.append(promo or promo_code_create(brand=brand, affiliate=affiliate, code=code))
    return codes


def _clicks(link: TrackingLink, rng: random.Random) -> list[str]:
    """A month of clicks on `link`, oldest first; returns the ids of the billable ones."""
    if Click.objects.filter(link=link).exists():
        return list(Click.objects.filter(link=link, is_billable=True).values_list("click_id", flat=True))
    now = timezone.now()
    active = link.affiliate.status == "active"
    countries = COUNTRIES.get(link.brand.slug, ["DE"])
    times = sorted(now - timedelta(minutes=rng.randint(10, 30 * 24 * 60)) for _ in range(CLICKS_PER_LINK))
    billable = []
    for n, at in enumerate(times):
        user_agent = rng.choice(BOT_AGENTS) if n % 13 == 5 else rng.choice(USER_AGENTS)
        ip = f"198.51.100.{rng.randint(1, 254)}"
        repeat = n % 11 == 3  # the same visitor clicking twice within a minute
        flag = ClickFlag.BOT if is_bot(user_agent) else ("" if active else ClickFlag.AFFILIATE_INACTIVE)
        subs = (rng.choice(["fb", "google", "tiktok", "newsletter"]), f"camp-{rng.randint(1, 4)}", "", "", "")
        for copy in range(2 if repeat else 1):
            click_id = _demo_click_id(link.token, n, copy)
            click_record(
                link_id=link.pk, affiliate_id=link.affiliate_id, brand_id=link.brand_id, subs=subs,
                country=rng.choice(countries), ip=ip, user_agent=user_agent, referrer="https://news.example/",
                flag=flag, duplicate_since=at - timedelta(seconds=60), click_id=click_id,
                now=at + timedelta(seconds=copy),
            )  # fmt: skip
            if not flag and not copy:
                billable.append(click_id)
    return billable


def seed(ctx) -> list[str]:
    rng = random.Random(20261128)
    with transaction.atomic():
        links = _links(ctx)
        promos = _promo_codes(ctx)
        customers = 0
        for link in links:
            prefix = link.brand.slug.split("-")[0][:3].upper()
            for n, click_id in enumerate(_clicks(link, rng)[:4]):
                external_id = f"{prefix}-{link.pk}-{n + 1}"
                if Customer.objects.filter(brand=link.brand, external_id=external_id).exists():
                    continue
                click = Click.objects.get(click_id=click_id)
                customer_resolve(
                    brand=link.brand, external_id=external_id, hints={"click_id": click_id},
                    occurred_at=click.created_at + timedelta(minutes=7), country=click.country, registration=True,
                )  # fmt: skip
                customers += 1
        for promo in promos:
            external_id = f"PROMO-{promo.code}"
            if not Customer.objects.filter(brand=promo.brand, external_id=external_id).exists():
                customer_resolve(
                    brand=promo.brand, external_id=external_id, hints={"promo_code": promo.code.lower()},
                    occurred_at=timezone.now() - timedelta(days=3), country="DE", registration=True,
                )  # fmt: skip
                customers += 1
        # A customer first brought by a link, later showing a rival's promo code: recorded, not applied.
        first = Customer.objects.filter(brand__slug="lucky-casino", attribution_method="click_id").order_by("pk")
        rival = next((p for p in promos if p.brand.slug == "lucky-casino" and p.code == "INSIDER50"), None)
        conflicted = first.first()
        if conflicted is not None and rival is not None and rival.affiliate_id != conflicted.affiliate_id:
            customer_resolve(
                brand=conflicted.brand, external_id=conflicted.external_id, hints={"promo_code": rival.code},
                occurred_at=timezone.now() - timedelta(days=1),
            )  # fmt: skip
        # And one the manager moved, with the reason in the audit.
        moved = first[1:2].first()
        target = ctx["affiliates"].get("Bet Insider")
        if moved is not None and target is not None and not CustomerReassignment.objects.filter(reason=REASON).exists():
            customer_reassign(customer=moved, affiliate=target, reason=REASON, by=ctx.get("manager"))
        untagged = _untagged(links)
    clicks = Click.objects.filter(link__in=links)
    return [
        f"{len(links)} tracking links, {len(promos)} promo codes, {clicks.count()} clicks "
        f"({clicks.filter(is_billable=True).count()} billable)",
        f"{customers} customers attributed" if customers else "customers already attributed",
        f"{untagged} customers credited to nobody, each saying why" if untagged else "untagged customers already there",
        *(f"link {link.name}: {link.url}" for link in links[:2]),
    ]


def _untagged(links: list[TrackingLink]) -> int:
    """Three customers whose hints were found and refused: a registration dated before its click (a backfill),
    a click of another brand's link, and a promo code the brand does not have."""
    link = next((link for link in links if link.brand.slug == "lucky-casino"), None)
    if link is None:
        return 0
    brand, made = link.brand, 0
    cases = []
    late = Click.objects.filter(link=link, is_billable=True).order_by("-created_at").first()
    if late is not None:
        hints = {"click_id": late.click_id, "sub1": late.sub1}
        cases.append(("UNTAGGED-1", hints, late.created_at - timedelta(hours=2)))
    other = Click.objects.filter(link__in=links, is_billable=True).exclude(brand=brand).order_by("created_at").first()
    if other is not None:
        cases.append(("UNTAGGED-2", {"click_id": other.click_id}, other.created_at + timedelta(minutes=10)))
    cases.append(("UNTAGGED-3", {"promo_code": UNTAGGED_PROMO}, timezone.now() - timedelta(days=2)))
    for external_id, hints, occurred_at in cases:
        if Customer.objects.filter(brand=brand, external_id=external_id).exists():
            continue
        customer_resolve(
            brand=brand, external_id=external_id, hints=hints, occurred_at=occurred_at, country="DE", registration=True
        )
        made += 1
    return made
