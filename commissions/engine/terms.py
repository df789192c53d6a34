"""Which terms are in force, and money helpers: a deal version merged with overrides, the brand's
periods, FX into the deal's currency."""

import datetime as dt
import zoneinfo
from bisect import bisect_right
from collections import defaultdict
from decimal import Decimal

from django.conf import settings

from affiliates.choices import AffiliateStatus, DealKind
from core.money import quantize

from .reading import Ev

ZERO = Decimal("0")
HUNDRED = Decimal("100")


class MissingRate(Exception):
    pass


def dec(value, default=ZERO) -> Decimal:
    if value is None or value == "":
        return default
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money(value: Decimal, currency: str) -> str:
    return f"{quantize(value, currency)} {currency}"


def num(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


class Terms:
    """A deal version merged with the affiliate's overrides, with Decimals parsed once."""

    def __init__(self, version, overrides: dict):
        self.version = version
        self.version_id = version.pk
        self.deal_id = version.deal_id
        raw = {name: getattr(version, name) for name in TERM_FIELDS}
        raw.update(overrides or {})
        self.overridden = sorted(overrides or {})
        self.name = version.name
        self.kind = version.kind
        self.currency = version.currency
        self.hold_days = int(raw["hold_days"] or 0)
        self.countries = list(raw["countries"] or [])
        self.cpa_amount = dec(raw["cpa_amount"])
        self.country_amounts = {str(k).upper(): dec(v) for k, v in (raw["country_amounts"] or {}).items()}
        q = raw["qualification"] or {}
        self.min_ftd = dec(q.get("min_ftd"))
        self.min_deposits = dec(q.get("min_deposits"))
        self.min_wagering = dec(q.get("min_wagering"))
        self.min_lots = dec(q.get("min_lots"))
        self.min_bets = int(q.get("min_bets") or 0)
        self.window_days = int(q.get("window_days") or 30)
        self.daily_cap = raw["cpa_daily_cap"]
        self.monthly_cap = raw["cpa_monthly_cap"]
        self.revshare_percent = dec(raw["revshare_percent"])
        self.revenue_basis = version.revenue_basis
        self.negative_carryover = bool(raw["negative_carryover"])
        self.tiers = [{k: (v if k == "min_ftds" else dec(v)) for k, v in t.items()} for t in raw["tiers"] or []]
        self.tier_application = version.tier_application
        self.cpl_amount = dec(raw["cpl_amount"])
        self.rebate_per_lot = dec(raw["rebate_per_lot"])
        self.groups = {}
        for group in raw["rebate_groups"] or []:
            spec = (group["name"], dec(group["per_lot"]), dec(group.get("lot_factor"), Decimal("1")))
            for instrument in group["instruments"]:
                self.groups[str(instrument).upper()] = spec
        self.lot_step = dec(version.lot_step, Decimal("0.01"))
        self.lot_rounding = version.lot_rounding
        self.prop_percent = dec(raw["prop_percent"])
        self.prop_pass_amount = dec(raw["prop_pass_amount"])
        self.prop_funded_amount = dec(raw["prop_funded_amount"])
        self.prop_include_resets = bool(version.prop_include_resets)
        self.subaffiliate_percent = dec(raw["subaffiliate_percent"])
        self.valid_from = version.valid_from
        self.valid_to = version.valid_to

    @property
    def label(self) -> str:
        text = f"{self.name} v{self.version.version}"
        if self.overridden:
            text += f" with your terms for {', '.join(self.overridden)}"
        return text

    @property
    def has_cpa(self) -> bool:
        return self.kind in (DealKind.CPA, DealKind.HYBRID)

    @property
    def has_revshare(self) -> bool:
        return self.kind in (DealKind.REVSHARE, DealKind.HYBRID)

    def covers(self, country: str) -> bool:
        return not self.countries or (country or "").upper() in self.countries

    def tier_for(self, *, ftds: int | None = None, revenue: Decimal | None = None, rate: str) -> dict | None:
        """The highest tier reached that sets `rate`."""
        best, best_key = None, None
        for tier in self.tiers:
            if rate not in tier:
                continue
            if "min_ftds" in tier and ftds is not None and ftds >= int(tier["min_ftds"]):
                key = Decimal(int(tier["min_ftds"]))
            elif "min_revenue" in tier and revenue is not None and revenue >= tier["min_revenue"]:
                key = tier["min_revenue"]
            else:
                continue
            if best_key is None or key >= best_key:
                best, best_key = tier, key
        return best


TERM_FIELDS = (
    "hold_days", "countries", "cpa_amount", "country_amounts", "qualification", "cpa_daily_cap", "cpa_monthly_cap",
    "revshare_percent", "negative_carryover", "tiers", "cpl_amount", "rebate_per_lot", "rebate_groups",
    "prop_percent", "prop_pass_amount", "prop_funded_amount", "subaffiliate_percent",
)  # fmt: skip


class Deals:
    """Which terms are in force for (affiliate, brand, day): the same rule as
    affiliates.selectors.deal_in_force, read once per brand so a month of events costs a few queries."""

    def __init__(self, brand_ids):
        from affiliates.models import Affiliate, Brand, DealAssignment, DealVersion

        from ..models import BrandRevenueRule

        brand_ids = set(brand_ids)
        self.tz = {b.pk: zoneinfo.ZoneInfo(b.timezone) for b in Brand.objects.filter(pk__in=brand_ids)}
        self.assignments = defaultdict(list)
        deal_ids = set()
        for a in DealAssignment.objects.filter(brand_id__in=brand_ids).order_by("-valid_from", "-pk"):
            self.assignments[(a.brand_id, a.affiliate_id)].append(a)
            deal_ids.add(a.deal_id)
        self.versions = defaultdict(list)
        for v in DealVersion.objects.filter(deal_id__in=deal_ids).order_by("-version"):
            self.versions[v.deal_id].append(v)
        self.rules = {r.brand_id: r for r in BrandRevenueRule.objects.filter(brand_id__in=brand_ids)}
        self._affiliate_model = Affiliate
        self.affiliates: dict[int, dict] = {}
        self._cache: dict = {}
        self._terms: dict = {}
        self._last_period: dict = {}

    def local(self, brand_id: int, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.tz[brand_id])

    def period(self, brand_id: int, moment: dt.datetime) -> str:
        """The month (brand time zone) of `moment`; remembers the last month's bounds per brand, since
        events come mostly in time order."""
        hit = self._last_period.get(brand_id)
        if hit is not None and hit[0] <= moment < hit[1]:
            return hit[2]
        period = period_of(self.local(brand_id, moment))
        start, end = self.period_bounds(brand_id, period)
        self._last_period[brand_id] = (start, end, period)
        return period

    def period_bounds(self, brand_id: int, period: str) -> tuple[dt.datetime, dt.datetime]:
        year, month = int(period[:4]), int(period[5:7])
        tz = self.tz[brand_id]
        start = dt.datetime(year, month, 1, tzinfo=tz)
        end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)

    def _assignment(self, affiliate_id, brand_id, day):
        for owner in (affiliate_id, None):
            for a in self.assignments.get((brand_id, owner), ()):
                if a.valid_from <= day and (a.valid_to is None or a.valid_to >= day):
                    return a
        return None

    def terms(self, affiliate_id: int, brand_id: int, day: dt.date) -> Terms | None:
        key = (affiliate_id, brand_id, day)
        if key not in self._cache:
            self._cache[key] = self._resolve(affiliate_id, brand_id, day)
        return self._cache[key]

    def _resolve(self, affiliate_id, brand_id, day):
        assignment = self._assignment(affiliate_id, brand_id, day)
        if assignment is None:
            return None
        version = next((v for v in self.versions.get(assignment.deal_id, ()) if v.effective_from <= day), None)
        if version is None:
            return None
        if (version.valid_from and day < version.valid_from) or (version.valid_to and day > version.valid_to):
            return None
        key = (assignment.pk, version.pk)
        if key not in self._terms:
            self._terms[key] = Terms(version, assignment.overrides)
        return self._terms[key]

    def need(self, ids) -> None:
        """Read the status and parent of these affiliates (and of their parents) in one or two queries."""
        missing = {i for i in ids if i is not None and i not in self.affiliates}
        for _ in range(2):
            if not missing:
                return
            rows = self._affiliate_model.objects.filter(pk__in=sorted(missing))
            for row in rows.values("pk", "parent_id", "status", "status_reason"):
                self.affiliates[row["pk"]] = row
            missing = {r["parent_id"] for r in self.affiliates.values()} - set(self.affiliates) - {None}

    def _affiliate(self, affiliate_id: int) -> dict | None:
        if affiliate_id not in self.affiliates:
            self.need([affiliate_id])
        return self.affiliates.get(affiliate_id)

    def affiliate_status(self, affiliate_id: int) -> tuple[str, str]:
        row = self._affiliate(affiliate_id) or {"status": AffiliateStatus.ACTIVE, "status_reason": ""}
        return row["status"], row["status_reason"]

    def parent(self, affiliate_id: int) -> int | None:
        row = self._affiliate(affiliate_id)
        return row["parent_id"] if row else None


class Fx:
    """Converts event amounts into a deal's currency through the platform's base currency."""

    def __init__(self):
        self.base = settings.BASE_CURRENCY
        self._rates: dict[str, tuple[list, list]] = {}

    def _rate(self, currency: str, day: dt.date) -> Decimal:
        if currency not in self._rates:
            from integrations.models import FxRate

            rows = list(FxRate.objects.filter(currency=currency).order_by("date").values_list("date", "rate"))
            self._rates[currency] = ([r[0] for r in rows], [r[1] for r in rows])
        dates, rates = self._rates[currency]
        index = bisect_right(dates, day) - 1
        if index < 0:
            raise MissingRate(f"no {currency} rate on or before {day}")
        return rates[index]

    def to(self, ev: Ev, value: Decimal, currency: str, *, is_amount: bool = False) -> Decimal:
        """`value` (in the event's currency) in `currency`."""
        if not ev.currency or ev.currency == currency:
            return value
        if is_amount and ev.amount_base is not None:
            base = ev.amount_base
        elif ev.fx_rate is not None:
            base = value * ev.fx_rate
        elif ev.currency == self.base:
            base = value
        else:
            raise MissingRate(f"event {ev.id} has no FX rate")
        if currency == self.base:
            return base
        return base / self._rate(currency, ev.occurred_at.date())


def period_of(local: dt.datetime) -> str:
    return f"{local.year:04d}-{local.month:02d}"
