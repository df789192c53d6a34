"""Worked examples, one per vertical, each amount computed by hand in the test."""

from decimal import Decimal

import pytest
import time_machine

from affiliates.choices import DealKind
from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealAssignmentFactory, DealFactory
from commissions import services
from commissions.choices import EntryKind, EntryStatus
from commissions.models import CommissionEntry
from commissions.selectors import affiliate_balance
from integrations.tests.factories import SourceFactory
from tracking.choices import EventType as T

from .factories import BrandRevenueRuleFactory, World, at

pytestmark = pytest.mark.django_db

CASINO_CPA = {
    "kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "200.00", "country_amounts": {"AT": "150.00"},
    "hold_days": 30, "tiers": [{"min_ftds": 3, "cpa_amount": "250.00"}],
    "qualification": {"min_ftd": "20.00", "min_deposits": "50.00", "min_wagering": "100.00", "window_days": 30},
}  # fmt: skip


def amounts(affiliate, kind=None) -> list[Decimal]:
    rows = CommissionEntry.objects.filter(affiliate=affiliate).order_by("occurred_at", "seq", "pk")
    if kind:
        rows = rows.filter(kind=kind)
    return [row.amount for row in rows]


def total(affiliate, currency="EUR") -> Decimal:
    return affiliate_balance(affiliate_id=affiliate.pk).get(currency, Decimal("0.00"))


def casino_month(world: World) -> None:
    """Five players in November 2026 (hand computation in the test that calls this)."""
    c1 = world.customer(country="DE")
    world.event(c1, T.FTD, "30.00", on="2026-11-02")
    world.event(c1, T.DEPOSIT, "25.00", on="2026-11-03")
    world.event(c1, T.BET, "10.00", on="2026-11-04", data={"wagered": "120.00"})
    c2 = world.customer(country="AT")
    world.event(c2, T.FTD, "60.00", on="2026-11-05")
    world.event(c2, T.BET, "100.00", on="2026-11-06")
    c3 = world.customer(country="DE")
    world.event(c3, T.FTD, "15.00", on="2026-11-07")
    world.event(c3, T.DEPOSIT, "100.00", on="2026-11-07")
    world.event(c3, T.BET, "500.00", on="2026-11-08")
    c4 = world.customer(country="DE")
    world.event(c4, T.FTD, "50.00", on="2026-11-10")
    world.event(c4, T.BET, "100.00", on="2026-11-12")
    c5 = world.customer(country="DE", registered="2026-11-01")
    world.event(c5, T.FTD, "50.00", on="2026-11-01")
    world.event(c5, T.BET, "100.00", on="2026-12-20")


@pytest.mark.parametrize(
    ("tier_application", "entries", "adjustment", "balance"),
    [
        # from_reached: c1 #1 DE 200.00; c2 #2 AT 150.00; c4 #3 reaches the 3-FTD tier: 250.00.
        # c3: FTD 15.00 < 20.00 minimum; c5: wagering met on 12-20, after the 30-day window (to 12-01).
        # 200.00 + 150.00 + 250.00 = 600.00
        ("from_reached", ["200.00", "150.00", "250.00"], None, "600.00"),
        # whole_period: booked at base 200.00, 150.00, 200.00 = 550.00; at close the month has 3 CPAs, the
        # tier pays 250.00 each: (250-200) + (250-150) + (250-200) = 200.00; 550.00 + 200.00 = 750.00
        ("whole_period", ["200.00", "150.00", "200.00"], "200.00", "750.00"),
    ],
)
def test_casino_cpa_pays_once_per_qualified_player_with_baseline_country_amounts_and_tiers(
    tier_application, entries, adjustment, balance
):
    # given a casino CPA deal with a baseline, an AT amount and a tier at 3 FTDs
    with time_machine.travel(at("2026-11-20"), tick=False):
        world = World({**CASINO_CPA, "name": "Casino CPA", "tier_application": tier_application})
        # when five players play in November
        casino_month(world)
    # then the qualified ones earn their CPA
    assert amounts(world.affiliate, EntryKind.CPA) == [Decimal(a) for a in entries]
    # and after the month closes a whole-period tier lifts every CPA of the month
    with time_machine.travel(at("2026-12-02"), tick=False):
        services.commission_period_close(brand_id=world.brand.pk, period="2026-11")
        services.commission_period_close(brand_id=world.brand.pk, period="2026-11")  # idempotent
    adjustments = amounts(world.affiliate, EntryKind.ADJUSTMENT)
    assert adjustments == ([Decimal(adjustment)] if adjustment else [])
    assert total(world.affiliate) == Decimal(balance)


def test_cpa_explanation_names_the_baseline_the_version_and_the_hold():
    with time_machine.travel(at("2026-11-20"), tick=False):
        world = World({**CASINO_CPA, "name": "Casino CPA"})
        casino_month(world)
    entry = CommissionEntry.objects.filter(affiliate=world.affiliate, kind=EntryKind.CPA).earliest("occurred_at")
    assert entry.explanation == (
        "CPA 200.00 EUR (the deal amount): FTD 30.00 EUR ≥ 20.00 EUR minimum, deposits 55.00 EUR ≥ 50.00 EUR, "
        "wagering 120.00 EUR ≥ 100.00 EUR, qualified on 2026-11-04 under Casino CPA v1; "
        "hold 30 days until 2026-12-04."
    )
    assert entry.status == EntryStatus.ON_HOLD
    assert entry.deal_version == world.deal.current


REVSHARE = {"kind": DealKind.REVSHARE, "currency": "EUR", "revshare_percent": "25", "hold_days": 0}


@pytest.mark.parametrize(
    ("carryover", "tiers", "november"),
    [
        # October: -1200.00 + 200.00 = -1000.00 → nothing due. November revenue 3000.00.
        # off: the negative month resets: 3000.00 x 25% = 750.00
        (False, [], "750.00"),
        # on: (3000.00 - 1000.00) x 25% = 500.00
        (True, [], "500.00"),
        # tier from 2500.00 revenue at 30%: off 3000.00 x 30% = 900.00; on 2000.00 x 30% = 600.00
        (False, [{"min_revenue": "2500", "revshare_percent": "30"}], "900.00"),
        (True, [{"min_revenue": "2500", "revshare_percent": "30"}], "600.00"),
    ],
)
def test_revshare_month_with_and_without_negative_carryover(carryover, tiers, november):
    with time_machine.travel(at("2026-12-03"), tick=False):
        world = World({**REVSHARE, "name": "RS", "negative_carryover": carryover, "tiers": tiers})
        player = world.customer(registered="2026-10-01")
        world.event(player, T.REVENUE, "-1200.00", on="2026-10-10")
        world.event(player, T.REVENUE, "200.00", on="2026-10-20")
        world.event(player, T.REVENUE, "1000.00", on="2026-11-10")
        world.event(player, T.REVENUE, "2000.00", on="2026-11-30")
        services.commission_period_close(brand_id=world.brand.pk, period="2026-10")
        services.commission_period_close(brand_id=world.brand.pk, period="2026-11")
    # (each event is processed as it arrives, in a closed month: the month's slot follows its figures)
    rows = CommissionEntry.objects.filter(affiliate=world.affiliate, slot__startswith="revshare:")
    assert {row.period for row in rows} == {"2026-11"}
    assert total(world.affiliate) == Decimal(november)


def test_revshare_month_boundary_is_the_brand_time_zone():
    # given revenue at 23:30 UTC on 30 Nov, which is already 1 Dec in Malta (UTC+1)
    with time_machine.travel(at("2027-01-02"), tick=False):
        world = World({**REVSHARE, "name": "RS"})
        player = world.customer()
        event = world.event(player, T.REVENUE, "100.00", on="2026-11-10")
        CommissionEntry.objects.all()
        late = world.event(player, T.REVENUE, "400.00", on="2026-11-30", run=False)
        type(late).objects.filter(pk=late.pk).update(occurred_at=at("2026-11-30", 23).replace(minute=30))
        services.commission_period_close(brand_id=world.brand.pk, period="2026-11")
        services.commission_period_close(brand_id=world.brand.pk, period="2026-12")
    # then November has 100.00 x 25% = 25.00, December 400.00 x 25% = 100.00
    rows = CommissionEntry.objects.filter(affiliate=world.affiliate, kind=EntryKind.REVSHARE)
    assert {row.period: row.amount for row in rows} == {"2026-11": Decimal("25.00"), "2026-12": Decimal("100.00")}
    assert event.pk in rows.get(period="2026-11").events


def test_revshare_from_components_uses_the_brand_formula():
    # given GGR 1000.00, bonus 100.00, payment fees 20.00 and a tax factor of 0.82
    # then net revenue = 1000.00 x 0.82 - 100.00 - 20.00 = 700.00, and 25% of it = 175.00
    with time_machine.travel(at("2026-12-03"), tick=False):
        world = World({**REVSHARE, "name": "RS net", "revenue_basis": "net_revenue"})
        BrandRevenueRuleFactory(brand=world.brand, tax_factor=Decimal("0.82"))
        player = world.customer()
        world.event(player, T.REVENUE, "880.00", on="2026-11-10",
                    data={"ggr": "1000.00", "bonus": "100.00", "payment_fees": "20.00"})  # fmt: skip
        services.commission_period_close(brand_id=world.brand.pk, period="2026-11")
    assert amounts(world.affiliate, EntryKind.REVSHARE) == [Decimal("175.00")]


def test_negative_revenue_is_ring_fenced_per_brand():
    # given the same affiliate at two brands: -1000.00 at A, +1000.00 at B in November
    with time_machine.travel(at("2026-12-03"), tick=False):
        a = World({**REVSHARE, "name": "RS A", "negative_carryover": True})
        brand_b = BrandFactory(timezone="Europe/Malta")
        deal_b = DealFactory(brand=brand_b, terms={**REVSHARE, "name": "RS B"})
        DealAssignmentFactory(deal=deal_b, affiliate=a.affiliate)
        a.event(a.customer(), T.REVENUE, "-1000.00", on="2026-11-10")
        b = World.__new__(World)
        b.brand, b.source, b.deal, b.affiliate = brand_b, SourceFactory(brand=brand_b), deal_b, a.affiliate
        b.event(b.customer(), T.REVENUE, "1000.00", on="2026-11-10")
        services.commission_close_last_month()
    # then B pays 1000.00 x 25% = 250.00, untouched by A's loss
    assert amounts(a.affiliate, EntryKind.REVSHARE) == [Decimal("250.00")]


FOREX = {
    "kind": DealKind.REBATE, "currency": "USD", "hold_days": 0, "rebate_per_lot": "1.00", "lot_step": "0.1",
    "rebate_groups": [
        {"name": "Majors", "instruments": ["EURUSD", "GBPUSD"], "per_lot": "5.00"},
        {"name": "Indices", "instruments": ["US30"], "per_lot": "2.00", "lot_factor": "0.1"},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        # down, step 0.1: EURUSD 1.25 → 1.2 x 5.00 = 6.00; GBPUSD 0.04 → 0.0 (no entry);
        # US30 13 x 0.1 = 1.3 x 2.00 = 2.60; XAUUSD (default group) 0.49 → 0.4 x 1.00 = 0.40
        ("down", ["6.00", "2.60", "0.40"]),
        # half-even: 1.25 → 1.2 (12.5 → 12) = 6.00; 0.04 → 0.0; 1.3 → 2.60; 0.49 → 0.5 x 1.00 = 0.50
        ("half_even", ["6.00", "2.60", "0.50"]),
        # none: 1.25 x 5.00 = 6.25; 0.04 x 5.00 = 0.20; 2.60; 0.49 x 1.00 = 0.49
        ("none", ["6.25", "0.20", "2.60", "0.49"]),
    ],
)
def test_forex_rebate_per_lot_per_instrument_group_with_the_deal_rounding(rounding, expected):
    with time_machine.travel(at("2026-11-20"), tick=False):
        world = World({**FOREX, "name": "FX", "lot_rounding": rounding})
        trader = world.customer()
        for day, instrument, lots in [(2, "EURUSD", "1.25"), (3, "GBPUSD", "0.04"), (4, "US30", "13"),
                                      (5, "XAUUSD", "0.49")]:  # fmt: skip
            world.event(trader, T.TRADE, on=f"2026-11-0{day}", data={"lots": lots, "instrument": instrument})
    assert amounts(world.affiliate, EntryKind.REBATE) == [Decimal(a) for a in expected]
    rebate = CommissionEntry.objects.filter(affiliate=world.affiliate).earliest("occurred_at")
    assert "1.25 lots EURUSD" in rebate.explanation and "group Majors" in rebate.explanation


PROP = {
    "kind": DealKind.PROP, "currency": "USD", "hold_days": 14, "prop_percent": "15", "prop_pass_amount": "50.00",
    "prop_funded_amount": "100.00",
}  # fmt: skip


@pytest.mark.parametrize(
    ("include_resets", "entries", "balance"),
    [
        # purchase 199.00 x 15% = 29.85; reset 99.00 x 15% = 14.85; pass 50.00; funded 100.00;
        # refund of the purchase reverses 29.85: 29.85 + 14.85 + 50.00 + 100.00 - 29.85 = 164.85
        (True, ["29.85", "14.85", "50.00", "100.00", "-29.85"], "164.85"),
        # resets excluded: 29.85 + 50.00 + 100.00 - 29.85 = 150.00
        (False, ["29.85", "50.00", "100.00", "-29.85"], "150.00"),
    ],
)
def test_prop_challenge_with_reset_pass_funding_and_refund(include_resets, entries, balance):
    with time_machine.travel(at("2026-11-20"), tick=False):
        world = World({**PROP, "name": "Prop", "prop_include_resets": include_resets})
        trader = world.customer()
        purchase = world.event(trader, T.CHALLENGE_PURCHASE, "199.00", on="2026-11-02")
        world.event(trader, T.RESET_FEE, "99.00", on="2026-11-05")
        world.event(trader, T.CHALLENGE_PASS, on="2026-11-10")
        world.event(trader, T.FUNDED_ACTIVATION, on="2026-11-12")
        world.event(trader, T.REFUND, "199.00", on="2026-11-15", ref=purchase)
    rows = CommissionEntry.objects.filter(affiliate=world.affiliate).order_by("pk")
    assert [row.amount for row in rows] == [Decimal(a) for a in entries]
    reversal = rows.get(kind=EntryKind.REVERSAL)
    assert reversal.reverses.amount == Decimal("29.85")
    assert f"event {purchase.pk} was refunded" in reversal.explanation
    assert total(world.affiliate, "USD") == Decimal(balance)


def test_sub_affiliate_chain_pays_each_parent_its_percent_and_reverses_with_the_child():
    # given A ← B ← C: the brand's default CPA deal (200.00) pays parents 5%; B's own terms say 10%
    with time_machine.travel(at("2026-11-20"), tick=False):
        terms = {"kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "200.00", "subaffiliate_percent": "5",
                 "qualification": {"min_ftd": "10.00"}}  # fmt: skip
        world = World({**terms, "name": "CPA subs"}, default=True)
        a = world.affiliate
        b = AffiliateFactory(parent=a)
        c = AffiliateFactory(parent=b)
        world.assign(b, subaffiliate_percent="10")
        # when C's player and B's own player make an FTD
        c_ftd = world.event(world.customer(affiliate=c), T.FTD, "50.00", on="2026-11-02")
        world.event(world.customer(affiliate=b), T.FTD, "50.00", on="2026-11-03")
    # then C earns 200.00; B earns 200.00 + 10% of C's 200.00 = 20.00; A earns 5% of B's own 200.00 = 10.00
    assert total(c) == Decimal("200.00")
    assert total(b) == Decimal("220.00")
    assert total(a) == Decimal("10.00")
    override = CommissionEntry.objects.get(affiliate=b, kind=EntryKind.SUBAFFILIATE)
    assert override.source_affiliate == c
    assert "10% (your terms" in override.explanation
    # when C's player charges the FTD back
    with time_machine.travel(at("2026-11-21"), tick=False):
        world.event(world.customer(affiliate=c), T.DEPOSIT, "1.00", on="2026-11-21")  # unrelated player
        world.event(c_ftd.customer, T.CHARGEBACK, "50.00", on="2026-11-21", ref=c_ftd)
    # then C's CPA and B's override on it are reversed: C 0.00, B 200.00, A still 10.00
    assert total(c) == Decimal("0.00")
    assert total(b) == Decimal("200.00")
    assert total(a) == Decimal("10.00")
    assert CommissionEntry.objects.filter(kind=EntryKind.REVERSAL).count() == 2


def test_cpl_pays_each_qualified_registration_once():
    # given CPL 3.50 EUR; three registrations, one of them pending and then rejected
    with time_machine.travel(at("2026-11-20"), tick=False):
        world = World({"kind": DealKind.CPL, "currency": "EUR", "cpl_amount": "3.50", "name": "CPL"})
        for _ in range(2):
            world.event(world.customer(), T.REGISTRATION, on="2026-11-02")
        doubtful = world.event(world.customer(), T.REGISTRATION, on="2026-11-03", status="pending")
        assert CommissionEntry.objects.get(events=[doubtful.pk]).status == EntryStatus.PENDING
        type(doubtful).objects.filter(pk=doubtful.pk).update(status="rejected")
        services.commission_process_event(event_id=doubtful.pk)
    # then 2 x 3.50 = 7.00
    assert total(world.affiliate) == Decimal("7.00")


def test_hybrid_pays_cpa_and_revshare():
    # CPA 100.00 on the FTD, and 30% of November revenue 500.00 = 150.00: 250.00
    with time_machine.travel(at("2026-12-02"), tick=False):
        world = World({"kind": DealKind.HYBRID, "currency": "EUR", "cpa_amount": "100.00", "revshare_percent": "30",
                       "name": "Hybrid"})  # fmt: skip
        player = world.customer()
        world.event(player, T.FTD, "20.00", on="2026-11-02")
        world.event(player, T.REVENUE, "500.00", on="2026-11-12")
        services.commission_close_last_month()
    assert sorted(amounts(world.affiliate)) == [Decimal("100.00"), Decimal("150.00")]


def test_late_revenue_for_a_closed_month_carries_into_the_months_after_it():
    # given carryover on, October -400.00 and November +1000.00, both months closed: Nov (1000 - 400) x 25% = 150.00
    with time_machine.travel(at("2026-12-03"), tick=False):
        world = World({**REVSHARE, "name": "RS", "negative_carryover": True})
        player = world.customer(registered="2026-10-01")
        world.event(player, T.REVENUE, "-400.00", on="2026-10-10", run=False)
        world.event(player, T.REVENUE, "1000.00", on="2026-11-10", run=False)
        services.commission_period_close(brand_id=world.brand.pk, period="2026-10")
        services.commission_period_close(brand_id=world.brand.pk, period="2026-11")
        assert total(world.affiliate) == Decimal("150.00")
        # when a late October correction of -200.00 arrives
        world.event(player, T.REVENUE, "-200.00", on="2026-10-20")
    # then November becomes (1000 - 600) x 25% = 100.00, by an adjustment of -50.00
    assert total(world.affiliate) == Decimal("100.00")
    assert amounts(world.affiliate, EntryKind.ADJUSTMENT) == [Decimal("-50.00")]
