"""A rollup rebuilt for any period says exactly what the raw rows say, for every grouping (hypothesis)."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from commissions.choices import COUNTED_STATUSES, EntryStatus
from integrations.tests.factories import SourceFactory
from portal.tests.factories import CommissionEntryFactory
from reports import upkeep
from reports.models import DailyRollup, RollupState
from reports.selectors import GROUP_BY, ReportFilter, cohorts, report
from tracking.choices import EventStatus, EventType
from tracking.models import Customer
from tracking.tests.factories import ClickFactory, ConversionEventFactory, CustomerFactory, TrackingLinkFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
DAY0 = dt.date(2026, 10, 30)
DAYS = 5
SUBS = ["", "fb", "tt"]
COUNTRIES = ["", "DE", "AT"]

moment = st.builds(
    lambda d, s: dt.datetime.combine(DAY0 + dt.timedelta(days=d), dt.time(), tzinfo=UTC) + dt.timedelta(seconds=s),
    st.integers(0, DAYS - 1),
    st.integers(0, 86_399),
)
cents = st.integers(-5_000, 50_000).map(lambda c: Decimal(c) / 100)
click = st.fixed_dictionaries(
    {"link": st.integers(0, 3), "at": moment, "sub1": st.sampled_from(SUBS), "country": st.sampled_from(COUNTRIES),
     "billable": st.booleans()}
)  # fmt: skip
customer = st.fixed_dictionaries(
    {"link": st.integers(-1, 3), "at": st.one_of(st.none(), moment), "sub1": st.sampled_from(SUBS),
     "sub3": st.sampled_from(SUBS), "country": st.sampled_from(COUNTRIES), "attributed": st.booleans()}
)  # fmt: skip
event = st.fixed_dictionaries(
    {"customer": st.integers(0, 5), "type": st.sampled_from([EventType.FTD, EventType.DEPOSIT, EventType.REVENUE,
     EventType.BET, EventType.REGISTRATION]), "status": st.sampled_from(list(EventStatus)), "test": st.booleans(),
     "amount": cents, "at": moment}
)  # fmt: skip
entry = st.fixed_dictionaries(
    {"customer": st.integers(-1, 5), "status": st.sampled_from(list(EntryStatus)), "amount": cents,
     "currency": st.sampled_from(["EUR", "USD"]), "at": moment, "affiliate": st.integers(0, 1)}
)  # fmt: skip
world = st.fixed_dictionaries(
    {
        "clicks": st.lists(click, max_size=12),
        "customers": st.lists(customer, min_size=6, max_size=6),
        "events": st.lists(event, max_size=14),
        "entries": st.lists(entry, max_size=8),
        "period": st.tuples(st.integers(0, DAYS - 1), st.integers(0, DAYS - 1)).map(sorted),
    }
)


@pytest.fixture
def programme():
    brands = [BrandFactory(slug="casino"), BrandFactory(slug="sports")]
    affiliates = [AffiliateFactory(), AffiliateFactory()]
    links = [TrackingLinkFactory(affiliate=affiliates[i % 2], brand=brands[i // 2]) for i in range(4)]
    sources = [SourceFactory(brand=b) for b in brands]
    return brands, affiliates, links, sources


def _make(data, programme) -> list[dict]:
    """Write the rows; returns facts to compute the expected figures from: (time, affiliate, brand, link,
    country, sub1, sub3, currency, measure, value)."""
    brands, affiliates, links, sources = programme
    facts = []

    def fact(at, affiliate, brand, link, country, sub1, sub3, currency, measure, value):
        facts.append({"at": at, "affiliate": affiliate.pk, "brand": brand.slug, "link": link.token if link else "",
                      "country": country, "sub1": sub1, "sub3": sub3, "currency": currency, "measure": measure,
                      "value": value})  # fmt: skip

    for c in data["clicks"]:
        link = links[c["link"]]
        ClickFactory(link=link, created_at=c["at"], sub1=c["sub1"], country=c["country"], is_billable=c["billable"])
        if c["billable"]:
            fact(c["at"], link.affiliate, link.brand, link, c["country"], c["sub1"], "", "", "clicks", 1)
    customers = []
    for i, c in enumerate(data["customers"]):
        link = links[c["link"]] if c["link"] >= 0 else None
        brand = link.brand if link else brands[i % 2]
        affiliate = (link.affiliate if link else affiliates[i % 2]) if c["attributed"] else None
        row = CustomerFactory(brand=brand, affiliate=affiliate, link=link, registered_at=c["at"], sub1=c["sub1"],
                              sub3=c["sub3"], country=c["country"])  # fmt: skip
        customers.append(row)
        if affiliate is not None and c["at"] is not None:
            fact(c["at"], affiliate, brand, link, c["country"], c["sub1"], c["sub3"], "", "registrations", 1)

    def dims(cust):
        return (cust.link, cust.country, cust.sub1, cust.sub3)

    for e in data["events"]:
        cust = customers[e["customer"]]
        source = sources[brands.index(cust.brand)]
        ConversionEventFactory(customer=cust, source=source, type=e["type"], status=e["status"], is_test=e["test"],
                               amount=e["amount"], occurred_at=e["at"])  # fmt: skip
        if cust.affiliate is None or e["test"] or e["status"] == EventStatus.REJECTED:
            continue
        link, country, sub1, sub3 = dims(cust)
        common = (e["at"], cust.affiliate, cust.brand, link, country, sub1, sub3, "")
        if e["type"] == EventType.FTD:
            fact(*common, "ftds", 1)
        if e["type"] in (EventType.FTD, EventType.DEPOSIT):
            fact(*common, "deposits", 1)
            fact(*common, "deposit_amount", e["amount"])
        if e["type"] == EventType.REVENUE:
            fact(*common, "revenue", e["amount"])
    for e in data["entries"]:
        cust = customers[e["customer"]] if e["customer"] >= 0 else None
        affiliate = affiliates[e["affiliate"]]
        brand = cust.brand if cust else brands[0]
        CommissionEntryFactory(affiliate=affiliate, brand=brand, customer=cust, status=e["status"],
                               amount=e["amount"], currency=e["currency"], occurred_at=e["at"])  # fmt: skip
        if e["status"] in COUNTED_STATUSES:
            link, country, sub1, sub3 = dims(cust) if cust else (None, "", "", "")
            fact(e["at"], affiliate, brand, link, country, sub1, sub3, e["currency"], "commission", e["amount"])
    return facts


def _expected_cohorts(data, programme, customers_made):
    """Per registration month: customers, FTD customers, revenue and commission within 7/30/90 days."""
    out = defaultdict(lambda: defaultdict(Decimal))
    for cust in customers_made:
        if cust.affiliate_id is None or cust.registered_at is None:
            continue
        month = cust.registered_at.date().replace(day=1)
        out[month]["customers"] += 1
        for n in (7, 30, 90):
            horizon = cust.registered_at + dt.timedelta(days=n)
            events = [e for e in cust.events.all() if e.occurred_at < horizon and not e.is_test
                      and e.status != EventStatus.REJECTED]  # fmt: skip
            out[month][f"ftds_d{n}"] += 1 if any(e.type == EventType.FTD for e in events) else 0
            out[month][f"revenue_d{n}"] += sum(
                (e.amount_base for e in events if e.type == EventType.REVENUE), Decimal(0)
            )
            for entry in cust.commissions.all():
                if (
                    entry.affiliate_id == cust.affiliate_id
                    and entry.status in COUNTED_STATUSES
                    and entry.occurred_at < horizon
                ):
                    out[month][f"commission_d{n}:{entry.currency}"] += entry.amount
    return out


def _actual_cohorts(rows):
    out = {}
    for row in rows:
        sums = {"customers": Decimal(row.customers)}
        for n in (7, 30, 90):
            sums[f"ftds_d{n}"] = Decimal(row.ftds[n])
            sums[f"revenue_d{n}"] = row.revenue[n]
            sums.update({f"commission_d{n}:{c}": a for c, a in row.commission[n].items()})
        out[row.month] = {k: v for k, v in sums.items() if v or ":" in k}
    return {m: s for m, s in out.items() if s}


def _expected(facts, start, end, group_by, affiliate_id=None):
    key_of = {"day": lambda f: f["at"].astimezone(UTC).date().isoformat(), "brand": lambda f: f["brand"],
              "affiliate": lambda f: str(f["affiliate"]), "country": lambda f: f["country"],
              "link": lambda f: f["link"], "sub1": lambda f: f["sub1"], "sub3": lambda f: f["sub3"],
              "sub2": lambda f: "", "sub4": lambda f: "", "sub5": lambda f: ""}  # fmt: skip
    out = defaultdict(lambda: defaultdict(Decimal))
    for f in facts:
        if not (start <= f["at"] < end) or (affiliate_id is not None and f["affiliate"] != affiliate_id):
            continue
        name = f"commission:{f['currency']}" if f["measure"] == "commission" else f["measure"]
        out[key_of[group_by](f)][name] += f["value"]
    return {group: dict(sums) for group, sums in out.items()}


def _actual(rows):
    out = {}
    for row in rows:
        sums = {name: Decimal(getattr(row, name)) for name in
                ("clicks", "registrations", "ftds", "deposits", "deposit_amount", "revenue")}  # fmt: skip
        sums.update({f"commission:{c}": a for c, a in row.commission.items()})
        sums = {k: v for k, v in sums.items() if v or k.startswith("commission")}
        if sums:
            out[row.group] = sums
    return out


def _clean(expected):
    return {
        g: {k: v for k, v in sums.items() if v or k.startswith("commission")}
        for g, sums in expected.items()
        if any(v or k.startswith("commission") for k, v in sums.items())
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=world)
def test_a_rebuilt_period_matches_the_raw_rows_for_every_grouping(programme, data):
    with transaction.atomic():
        facts = _make(data, programme)
        first, last = (DAY0 + dt.timedelta(days=d) for d in data["period"])
        upkeep.rollups_rebuild(start=first, end=last)
        RollupState.objects.update_or_create(pk=1, defaults={"covered_from": first})
        start = dt.datetime.combine(first, dt.time(), tzinfo=UTC)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
        affiliate = programme[1][0].pk
        for group_by in [g for g in GROUP_BY if g != "sub2"]:
            assert _actual(report(start=start, end=end, group_by=group_by)) == _clean(
                _expected(facts, start, end, group_by)
            ), group_by
            mine = report(start=start, end=end, group_by=group_by, flt=ReportFilter(affiliate_id=affiliate))
            assert _actual(mine) == _clean(_expected(facts, start, end, group_by, affiliate)), group_by
        expected = _expected_cohorts(data, programme, Customer.objects.prefetch_related("events", "commissions"))
        expected = {m: {k: v for k, v in s.items() if v or ":" in k} for m, s in expected.items()}
        months = {first.replace(day=1), last.replace(day=1)}
        assert _actual_cohorts(cohorts(start=first, end=last)) == {
            m: s for m, s in expected.items() if s and m in months
        }
        # whole, covered days: the figures came from the rollups, not from the raw rows
        assert DailyRollup.objects.exists() == any(start <= f["at"] < end for f in facts)
        transaction.set_rollback(True)
