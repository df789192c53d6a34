"""Demo ingestion: a source per sample dialect on the demo brands, FX rates, and the operators' sample
payloads fed through the real endpoints (postbacks and the events API, with the sources' own keys).

Sources are looked up first: a second run creates nothing and sends nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.test import Client

from tracking.models import Click, PromoCode

from .models import FxRate, Source
from .presets import SAMPLES_DIR
from .services import fx_rates_import, source_create

# slug, name, brand slug, kind, preset, sample file, options
SOURCES = [
    ("lucky-casino-platform", "Lucky Casino platform (postbacks)", "lucky-casino", "gaming_backend",
     "casino_postbacks", "casino_postbacks.txt", {}),
    ("atlas-mt5", "Atlas FX MetaTrader 5", "atlas-fx", "trading_platform", "mt5_deals", "mt5_deals.json",
     {"derive_ftd": True}),
    ("atlas-crm", "Atlas FX CRM", "atlas-fx", "crm", "crm_events", "crm_events.json", {}),
    ("summit-shop", "Summit challenge shop", "summit-prop", "prop_shop", "prop_shop_webhooks",
     "prop_shop_webhooks.json", {}),
]  # fmt: skip
# ECB-style quotes per 1 EUR for the sample periods (fixed, so the demo's numbers are reproducible).
PER_EUR = {"USD": "1.0800", "GBP": "0.8600", "JPY": "162.00", "CHF": "0.9400"}
FX_PERIODS = [(date(2025, 10, 20), 20), (date(2026, 10, 25), 40)]


def _fx_rates() -> int:
    if FxRate.objects.filter(origin="demo").exists():
        return 0
    lines = ["Date," + ",".join(PER_EUR)]
    for first, days in FX_PERIODS:
        for n in range(days):
            lines.append(f"{(first + timedelta(days=n)).isoformat()}," + ",".join(PER_EUR.values()))
    counts = fx_rates_import(text="\n".join(lines) + "\n", origin="demo")
    return counts["created"]


def _client() -> Client:
    hosts = [h for h in settings.ALLOWED_HOSTS if h and "*" not in h and not h.startswith(".")]
    return Client(HTTP_HOST=hosts[0] if hosts else "localhost")


def _casino_lines(brand) -> list[str]:
    """The casino sample, with its click id replaced by a real demo click so attribution has work to do."""
    lines = (SAMPLES_DIR / "casino_postbacks.txt").read_text().split()
    click = Click.objects.filter(brand=brand, is_billable=True).order_by("created_at").first()
    if click is None:
        return lines
    out = []
    for line in lines:
        params = dict(parse_qsl(line))
        if params.get("btag") == "CLICK-AAA1":
            params["btag"] = click.click_id
            params["ts"] = (click.created_at + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(urlencode(params))
    return out


def _json_rows(name: str) -> list[str]:
    rows = [line.strip().rstrip(",") for line in (SAMPLES_DIR / name).read_text().splitlines()]
    return [row for row in rows if row.startswith("{")]


def _feed(source: Source, key: str, sample: str) -> dict[str, int]:
    client = _client()
    counts: dict[str, int] = {}
    if sample.endswith(".txt"):
        for line in _casino_lines(source.brand):
            response = client.get(f"/postback/{source.slug}/?{line}&key={key}")
            status = response.json()["status"] if response.status_code < 300 else "rejected"
            counts[status] = counts.get(status, 0) + 1
        return counts
    for row in _json_rows(sample):
        response = client.post(
            "/api/v1/events", row, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
        for result in response.json().get("results", [{"status": "rejected"}]):
            counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts


def _promo_for_prop(ctx, brand) -> None:
    """The prop sample attributes by the promo code ALPHA10: give it to a demo affiliate."""
    if PromoCode.objects.filter(brand=brand, code__iexact="ALPHA10").exists():
        return
    affiliates = list((ctx.get("affiliates") or {}).values())
    if not affiliates:
        return
    from tracking.services import promo_code_create

    promo_code_create(brand=brand, affiliate=affiliates[0], code="ALPHA10")


def seed(ctx) -> list[str]:
    brands = ctx.get("brands") or {}
    lines = []
    created_rates = _fx_rates()
    if created_rates:
        lines.append(f"{created_rates} FX rates (demo ECB-style quotes)")
    for slug, name, brand_slug, kind, preset, sample, options in SOURCES:
        brand = brands.get(brand_slug)
        if brand is None or Source.objects.filter(slug=slug).exists():
            continue
        if preset == "prop_shop_webhooks":
            _promo_for_prop(ctx, brand)
        source, key = source_create(
            slug=slug, name=name, brand=brand, kind=kind, preset=preset, created_by=ctx.get("manager"), **options
        )
        counts = _feed(source, key, sample)
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        lines.append(f"source {slug} ({preset}): {summary}; its key (shown once): {key}")
    return lines
