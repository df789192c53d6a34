"""Ledger behaviour: once-only booking, holds, qualification updates, reversals, test traffic,
affiliate status, manager decisions, no retroactive terms, recalculation, rounding and balance."""

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.core.management import call_command

from affiliates import services as affiliate_services
from affiliates.choices import AffiliateStatus, DealKind
from commissions import services
from commissions.choices import EntryKind, EntryStatus
from commissions.models import CommissionEntry
from commissions.selectors import affiliate_balance
from commissions.tasks import process_event, release_holds
from core.problems import Problem
from integrations.tests.factories import SourceFactory
from tracking.choices import EventType as T

from .factories import World, at

pytestmark = pytest.mark.django_db

CPA = {"kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "200.00", "hold_days": 30, "name": "CPA",
       "qualification": {"min_ftd": "20.00"}}  # fmt: skip


@pytest.fixture
def world():
    with time_machine.travel(at("2026-11-01"), tick=False):
        return World(CPA)


def cpa_rows(world):
    return CommissionEntry.objects.filter(affiliate=world.affiliate).order_by("pk")


def test_an_event_processed_many_times_books_its_cpa_once(world):
    with time_machine.travel(at("2026-11-05"), tick=False):
        ftd = world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
        for _ in range(3):
            process_event(ftd.pk)
    assert [(r.kind, r.amount) for r in cpa_rows(world)] == [(EntryKind.CPA, Decimal("200.00"))]


def test_a_second_ftd_of_the_same_customer_pays_no_second_cpa(world):
    with time_machine.travel(at("2026-11-05"), tick=False):
        player = world.customer()
        world.event(player, T.FTD, "50.00", on="2026-11-02")
        world.event(player, T.FTD, "70.00", on="2026-11-03")
    assert cpa_rows(world).count() == 1


def test_entry_waits_on_hold_and_beat_releases_it_when_the_hold_ends(world):
    with time_machine.travel(at("2026-11-05"), tick=False):
        world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
    entry = cpa_rows(world).get()
    # hold 30 days from the qualifying FTD on 2026-11-02 12:00 UTC
    assert entry.status == EntryStatus.ON_HOLD
    assert entry.hold_until == at("2026-12-02")
    with time_machine.travel(at("2026-12-01"), tick=False):
        release_holds()
    entry.refresh_from_db()
    assert entry.status == EntryStatus.ON_HOLD
    with mock.patch("commissions.ledger.outbox_publish") as publish, time_machine.travel(at("2026-12-02", 13)):
        release_holds()
    entry.refresh_from_db()
    assert entry.status == EntryStatus.APPROVED
    assert publish.call_args.kwargs["type"] == "commission.approved"
    assert publish.call_args.kwargs["affiliate_id"] == world.affiliate.pk


def test_pending_event_keeps_its_entry_pending_until_it_qualifies(world):
    with time_machine.travel(at("2026-11-05"), tick=False):
        ftd = world.event(world.customer(), T.FTD, "50.00", on="2026-11-02", status="pending")
        assert cpa_rows(world).get().status == EntryStatus.PENDING
        # when ingestion applies a status update that qualifies the FTD and re-runs the task on it
        type(ftd).objects.filter(pk=ftd.pk).update(status="qualified")
        process_event(ftd.pk)
    assert cpa_rows(world).get().status == EntryStatus.ON_HOLD


def test_rejected_event_reverses_its_open_entry_by_a_new_entry(world):
    with time_machine.travel(at("2026-11-05"), tick=False):
        ftd = world.event(world.customer(), T.FTD, "50.00", on="2026-11-02", status="pending")
        type(ftd).objects.filter(pk=ftd.pk).update(status="rejected")
        with mock.patch("commissions.ledger.outbox_publish") as publish:
            process_event(ftd.pk)
            process_event(ftd.pk)
    original, reversal = cpa_rows(world)
    assert (original.status, original.amount) == (EntryStatus.REVERSED, Decimal("200.00"))
    assert (reversal.kind, reversal.amount, reversal.reverses) == (EntryKind.REVERSAL, Decimal("-200.00"), original)
    assert [c.kwargs["type"] for c in publish.call_args_list] == ["commission.reversed"]
    assert affiliate_balance(affiliate_id=world.affiliate.pk) == {"EUR": Decimal("0.00")}


def test_chargeback_after_approval_never_edits_the_approved_entry(world):
    with time_machine.travel(at("2026-11-05"), tick=False):
        ftd = world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
        services.commission_approve(entries=cpa_rows(world))
        world.event(ftd.customer, T.CHARGEBACK, "50.00", on="2026-11-04", ref=ftd)
    original, reversal = cpa_rows(world)
    assert (original.status, original.amount) == (EntryStatus.APPROVED, Decimal("200.00"))
    assert (reversal.status, reversal.amount) == (EntryStatus.APPROVED, Decimal("-200.00"))
    assert f"event {ftd.pk} was charged back" in reversal.explanation


@pytest.mark.parametrize("how", ["is_test", "source_test_mode"])
def test_test_traffic_never_reaches_the_ledger(world, how):
    with time_machine.travel(at("2026-11-05"), tick=False):
        extra = {"is_test": True} if how == "is_test" else {"source": SourceFactory(brand=world.brand, test_mode=True)}
        world.event(world.customer(), T.FTD, "50.00", on="2026-11-02", **extra)
    assert not CommissionEntry.objects.exists()


def test_rejected_affiliate_gets_a_rejected_entry_that_never_counts(world):
    world.affiliate.status = AffiliateStatus.REJECTED
    world.affiliate.status_reason = "fraud"
    world.affiliate.save()
    with time_machine.travel(at("2026-11-05"), tick=False):
        world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
    entry = cpa_rows(world).get()
    assert entry.status == EntryStatus.REJECTED
    assert entry.explanation.endswith("Not paid: Affiliate rejected: fraud; not payable.")
    assert affiliate_balance(affiliate_id=world.affiliate.pk) == {}


def test_suspended_affiliate_entry_is_held_past_its_hold_until_reinstated(world):
    world.affiliate.status = AffiliateStatus.SUSPENDED
    world.affiliate.save()
    with time_machine.travel(at("2026-11-05"), tick=False):
        world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
    with time_machine.travel(at("2026-12-10"), tick=False):
        release_holds()
        assert cpa_rows(world).get().status == EntryStatus.ON_HOLD
        assert "Held while the affiliate is suspended." in cpa_rows(world).get().explanation
        world.affiliate.status = AffiliateStatus.ACTIVE
        world.affiliate.save()
        release_holds()
    assert cpa_rows(world).get().status == EntryStatus.APPROVED


def test_manager_rejects_in_bulk_with_a_reason_and_cannot_reject_an_approved_entry(world):
    with time_machine.travel(at("2026-11-05"), tick=False):
        for _ in range(2):
            world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
    with pytest.raises(Problem) as missing:
        services.commission_reject(entries=cpa_rows(world), reason="  ")
    assert missing.value.code == "reason_required"
    done = services.commission_reject(entries=cpa_rows(world), reason="duplicate accounts")
    assert {(e.status, e.status_reason) for e in done} == {(EntryStatus.REJECTED, "duplicate accounts")}
    with pytest.raises(Problem) as closed:
        services.commission_approve(entries=cpa_rows(world))
    assert closed.value.status_code == 409


def test_daily_cap_books_the_extra_cpa_as_rejected_with_the_reason():
    with time_machine.travel(at("2026-11-05"), tick=False):
        world = World({**CPA, "cpa_daily_cap": 2})
        for _ in range(3):
            world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
    assert [r.status for r in cpa_rows(world)] == [EntryStatus.ON_HOLD, EntryStatus.ON_HOLD, EntryStatus.REJECTED]
    assert cpa_rows(world).last().explanation.endswith("Not paid: Daily CPA cap of 2 reached.")
    # 2 x 200.00 = 400.00; the capped one never counts
    assert affiliate_balance(affiliate_id=world.affiliate.pk) == {"EUR": Decimal("400.00")}


def test_new_terms_never_reach_back_until_a_manager_recalculates(world):
    # given a CPA booked under v1 (200.00) for an FTD on 2026-11-02
    with time_machine.travel(at("2026-11-05"), tick=False):
        world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
        # when the deal gets v2 (220.00) in force from 2026-11-01 and the player's events are re-run
        affiliate_services.deal_update(
            deal=world.deal, terms={"cpa_amount": "220.00"}, effective_from=dt.date(2026, 11, 1)
        )
        for event in world.brand.events.all():
            process_event(event.pk)
        # and a new player qualifies under v2
        world.event(world.customer(), T.FTD, "50.00", on="2026-11-04")
    # then the booked CPA is untouched and the new one uses v2
    assert [r.amount for r in cpa_rows(world)] == [Decimal("200.00"), Decimal("220.00")]
    # when the manager asks for a what-if, then applies it
    with time_machine.travel(at("2026-11-06"), tick=False):
        what_if = services.commission_recalculate(affiliate=world.affiliate)
        assert [(d.booked, d.intended, d.difference) for d in what_if.diffs] == [
            (Decimal("200.00"), Decimal("220.00"), Decimal("20.00"))
        ]
        assert not what_if.booked and cpa_rows(world).count() == 2
        applied = services.commission_recalculate(affiliate=world.affiliate, apply=True)
        again = services.commission_recalculate(affiliate=world.affiliate, apply=True)
    assert [(e.kind, e.amount, e.batch) for e in applied.booked] == [
        (EntryKind.ADJUSTMENT, Decimal("20.00"), applied.batch)
    ]
    assert again.diffs == [] and again.booked == []
    assert affiliate_balance(affiliate_id=world.affiliate.pk) == {"EUR": Decimal("440.00")}


def test_recalculation_books_what_a_late_assignment_pays_for():
    # given an FTD processed while the affiliate had no deal
    with time_machine.travel(at("2026-11-05"), tick=False):
        world = World({**CPA, "name": "Later"})
        stranger = World.__new__(World)
        stranger.__dict__.update(world.__dict__)
        from affiliates.tests.factories import AffiliateFactory

        stranger.affiliate = AffiliateFactory()
        stranger.event(stranger.customer(), T.FTD, "50.00", on="2026-11-02")
        assert not CommissionEntry.objects.exists()
        world.assign(stranger.affiliate)
        call_command(
            "recalculate_commissions", "--affiliate", str(stranger.affiliate.pk), "--apply", stdout=mock.Mock()
        )
    assert affiliate_balance(affiliate_id=stranger.affiliate.pk) == {"EUR": Decimal("200.00")}


def test_amounts_are_rounded_half_even_once_at_the_ledger():
    # 2.5% of 1.00 = 0.025 → 0.02 (half-even); 2.5% of 3.00 = 0.075 → 0.08; 2.5% of 0.90 = 0.0225 → 0.02
    with time_machine.travel(at("2026-11-05"), tick=False):
        world = World({"kind": DealKind.PROP, "currency": "USD", "prop_percent": "2.5", "name": "P"})
        trader = world.customer()
        for day, fee in [(1, "1.00"), (2, "3.00"), (3, "0.90")]:
            world.event(trader, T.CHALLENGE_PURCHASE, fee, on=f"2026-11-0{day}")
    assert [r.amount for r in cpa_rows(world)] == [Decimal("0.02"), Decimal("0.08"), Decimal("0.02")]
    # the balance is the sum of the entries, exact to the cent: 0.02 + 0.08 + 0.02 = 0.12
    assert affiliate_balance(affiliate_id=world.affiliate.pk) == {"USD": Decimal("0.12")}


def test_ledger_rows_are_immutable(world):
    with time_machine.travel(at("2026-11-05"), tick=False):
        world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
    entry = cpa_rows(world).get()
    entry.amount = Decimal("999.00")
    with pytest.raises(ValueError, match="immutable"):
        entry.save()


def test_an_event_for_an_unknown_id_or_an_unattributed_customer_does_nothing(world):
    process_event(987654)
    with time_machine.travel(at("2026-11-05"), tick=False):
        orphan = world.customer()
        type(orphan).objects.filter(pk=orphan.pk).update(affiliate=None)
        orphan.refresh_from_db()
        world.event(orphan, T.FTD, "50.00", on="2026-11-02", affiliate=None)
    assert not CommissionEntry.objects.exists()


def test_recalculation_needs_a_scope_and_a_valid_period(world):
    with pytest.raises(Problem) as scope:
        services.commission_recalculate()
    assert scope.value.code == "scope_required"
    with pytest.raises(Problem) as period:
        services.commission_recalculate(affiliate=world.affiliate, period="2026-13x")
    assert period.value.code == "invalid_period"


def test_amounts_in_another_currency_are_converted_through_the_base_currency():
    # given a EUR RevShare deal and revenue sent in USD: 100.00 USD worth 92.00 EUR (the base) that day
    with time_machine.travel(at("2026-12-02"), tick=False):
        world = World({"kind": DealKind.REVSHARE, "currency": "EUR", "revshare_percent": "25", "name": "RS"})
        event = world.event(world.customer(), T.REVENUE, "100.00", on="2026-11-10", currency="USD", run=False)
        type(event).objects.filter(pk=event.pk).update(amount_base=Decimal("92.00"), fx_rate=Decimal("0.92"))
        services.commission_close_last_month()
    # then 92.00 EUR x 25% = 23.00 EUR
    assert [(r.amount, r.currency) for r in cpa_rows(world)] == [(Decimal("23.00"), "EUR")]


def test_revshare_tier_by_ftd_count_in_the_month():
    # given 25%, or 35% from 2 FTDs in the month; two FTDs and 400.00 revenue in November
    with time_machine.travel(at("2026-12-02"), tick=False):
        world = World({"kind": DealKind.REVSHARE, "currency": "EUR", "revshare_percent": "25", "name": "RS",
                       "tiers": [{"min_ftds": 2, "revshare_percent": "35"}]})  # fmt: skip
        for day in (3, 4):
            player = world.customer()
            world.event(player, T.FTD, "20.00", on=f"2026-11-0{day}", run=False)
            world.event(player, T.REVENUE, "200.00", on=f"2026-11-0{day}", run=False)
        services.commission_close_last_month()
    # then 400.00 x 35% = 140.00
    assert [r.amount for r in cpa_rows(world)] == [Decimal("140.00")]
    assert "(tier of 2 FTDs reached)" in cpa_rows(world).get().explanation
