"""Review flags: large or unusual entries are written flagged, say why, and wait for a person."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from affiliates.choices import DealKind
from commissions import services
from commissions.choices import EntryStatus
from commissions.models import AffiliateDayTotal, CommissionEntry
from tracking.choices import EventType as T

from .factories import ReviewPolicyFactory, World, at, day_totals

pytestmark = pytest.mark.django_db

CPA = {"kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "200.00", "hold_days": 30, "name": "CPA"}
NOW = "2026-11-05"


@pytest.fixture
def travel():
    with time_machine.travel(at(NOW), tick=False) as traveller:
        yield traveller


def book(world, n: int = 1, *, amount: str = "50.00"):
    for _ in range(n):
        world.event(world.customer(), T.FTD, amount, on="2026-11-02")
    return list(CommissionEntry.objects.filter(affiliate=world.affiliate).order_by("pk"))


def test_entry_over_the_brand_threshold_is_flagged_with_the_reason(travel):
    world = World(CPA)
    ReviewPolicyFactory(brand=world.brand, amount_over=Decimal("150.00"))
    (entry,) = book(world)
    assert entry.review_flag is True
    assert entry.review_reason == "Amount 200.00 EUR is over the brand's review threshold of 150.00 EUR."
    assert entry.status == EntryStatus.ON_HOLD


def test_entry_under_the_threshold_or_of_a_brand_without_policy_is_not_flagged(travel):
    world = World(CPA)
    ReviewPolicyFactory(brand=world.brand, amount_over=Decimal("200.00"))  # over, not at
    other = World(CPA)
    (entry,) = book(world)
    (unpoliced,) = book(other)
    assert (entry.review_flag, entry.review_reason) == (False, "")
    assert unpoliced.review_flag is False


def test_disabled_policy_flags_nothing(travel):
    world = World(CPA)
    ReviewPolicyFactory(brand=world.brand, amount_over=Decimal("1.00"), enabled=False)
    (entry,) = book(world)
    assert entry.review_flag is False


def test_entry_many_times_the_affiliates_average_entry_is_flagged(travel):
    world = World(CPA)
    ReviewPolicyFactory(brand=world.brand, entry_rise_factor=Decimal("5"), min_history_entries=10)
    # 30 days of history before today: one 20.00 EUR entry a day
    day_totals(world.affiliate, world.brand, last_day="2026-11-04", days=30, total="20.00")
    (entry,) = book(world)
    assert entry.review_flag is True
    assert entry.review_reason == (
        "Amount 200.00 EUR is 10.0 times the affiliate's average entry of 20.00 EUR over the last 30 days "
        "(review above 5.0 times)."
    )


def test_day_total_rising_past_its_average_day_is_flagged_by_the_entry_that_crosses(travel):
    world = World({**CPA, "cpa_amount": "30.00"})
    ReviewPolicyFactory(brand=world.brand, day_rise_factor=Decimal("3"), min_history_entries=10)
    day_totals(world.affiliate, world.brand, last_day="2026-11-04", days=30, total="20.00")
    # average day 20.00: 30, 60 stay within 3x (60.00), the third entry takes the day to 90.00
    first, second, third = book(world, 3)
    assert (first.review_flag, second.review_flag, third.review_flag) == (False, False, True)
    assert third.review_reason == (
        "It takes the affiliate's total for 2026-11-05 to 90.00 EUR, 4.5 times its average day of 20.00 EUR "
        "over the last 30 days (review above 3.0 times)."
    )
    today = AffiliateDayTotal.objects.get(affiliate=world.affiliate, day=dt.date(2026, 11, 5))
    assert (today.total, today.entries) == (Decimal("90.000"), 3)


def test_rise_factors_wait_for_enough_history(travel):
    world = World(CPA)
    ReviewPolicyFactory(brand=world.brand, entry_rise_factor=Decimal("2"), day_rise_factor=Decimal("2"),
                        min_history_entries=10)  # fmt: skip
    day_totals(world.affiliate, world.brand, last_day="2026-11-04", days=5, total="10.00")  # 5 entries only
    (entry,) = book(world)
    assert entry.review_flag is False


def test_history_outside_the_window_does_not_count(travel):
    world = World(CPA)
    ReviewPolicyFactory(brand=world.brand, entry_rise_factor=Decimal("2"), history_days=30, min_history_entries=1)
    day_totals(world.affiliate, world.brand, last_day="2026-09-30", days=30, total="10.00")  # all before the window
    (entry,) = book(world)
    assert entry.review_flag is False


def test_a_flagged_entry_whose_hold_is_over_is_born_on_hold_not_approved(travel):
    world = World({**CPA, "hold_days": 0})
    ReviewPolicyFactory(brand=world.brand, amount_over=Decimal("100.00"))
    (entry,) = book(world)
    assert (entry.status, entry.review_flag) == (EntryStatus.ON_HOLD, True)


def test_hold_release_skips_flagged_entries_until_the_flag_is_cleared(travel, admin_user):
    world = World(CPA)
    ReviewPolicyFactory(brand=world.brand, amount_over=Decimal("150.00"))
    flagged = book(world)[0]
    plain_world = World({**CPA, "cpa_amount": "100.00"}, email="plain@example.com")
    plain = book(plain_world)[0]
    travel.move_to(at("2026-12-10"))
    assert services.commission_release_holds() == 1
    flagged.refresh_from_db()
    plain.refresh_from_db()
    assert (plain.status, flagged.status) == (EntryStatus.APPROVED, EntryStatus.ON_HOLD)
    services.commission_review_clear(entries=[flagged], note="Checked the deposits with the operator.", by=admin_user)
    flagged.refresh_from_db()
    assert flagged.review_flag is False and flagged.review_cleared_by == admin_user
    assert flagged.review_note == "Checked the deposits with the operator."
    assert flagged.review_reason.startswith("Amount 200.00 EUR")  # the why stays
    assert services.commission_release_holds() == 1
    flagged.refresh_from_db()
    assert flagged.status == EntryStatus.APPROVED


def test_approving_a_flagged_entry_settles_its_review(travel, admin_user):
    world = World(CPA)
    ReviewPolicyFactory(brand=world.brand, amount_over=Decimal("150.00"))
    (entry,) = book(world)
    (done,) = services.commission_approve(entries=[entry], reason="Known high roller.", by=admin_user)
    assert (done.status, done.review_flag, done.review_note) == (
        EntryStatus.APPROVED, False, "Approved: Known high roller.",
    )  # fmt: skip


def test_clearing_needs_a_note_and_a_flagged_entry(travel):
    from core.problems import Problem

    world = World(CPA)
    (entry,) = book(world)
    with pytest.raises(Problem) as empty:
        services.commission_review_clear(entries=[entry], note="  ")
    assert empty.value.code == "note_required"
    with pytest.raises(Problem) as unflagged:
        services.commission_review_clear(entries=[entry], note="fine")
    assert unflagged.value.code == "entry_not_flagged"


def test_bulk_booking_evaluates_review_with_one_read_and_one_write_per_batch(travel):
    world = World(CPA)
    ReviewPolicyFactory(brand=world.brand, amount_over=Decimal("150.00"), entry_rise_factor=Decimal("5"),
                        day_rise_factor=Decimal("5"))  # fmt: skip
    for _ in range(25):
        world.event(world.customer(), T.FTD, "50.00", on="2026-11-02", run=False)
    with CaptureQueriesContext(connection) as queries:
        result = services.commission_recalculate(affiliate=world.affiliate, apply=True)
    assert len(result.booked) == 25 and all(e.review_flag for e in result.booked)
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("commissions_reviewpolicy" in s for s in sql) == 1
    assert sum("commissions_affiliatedaytotal" in s and s.lstrip().upper().startswith("SELECT") for s in sql) == 1
    assert sum("commissions_affiliatedaytotal" in s and s.lstrip().upper().startswith("INSERT") for s in sql) == 1
    today = AffiliateDayTotal.objects.get(affiliate=world.affiliate)
    assert (today.total, today.entries) == (Decimal("5000.000"), 25)


def test_api_shows_the_flag_and_filters_flagged(mgmt, travel):
    world = World(CPA)
    ReviewPolicyFactory(brand=world.brand, amount_over=Decimal("150.00"))
    book(world)
    (plain,) = book(World({**CPA, "cpa_amount": "100.00"}, email="other@example.com"))
    rows = mgmt.get("/api/v1/commissions?flagged=true").json()["results"]
    assert [(r["review_flag"], r["review_reason"][:20]) for r in rows] == [(True, "Amount 200.00 EUR is")]
    others = mgmt.get("/api/v1/commissions?flagged=false").json()["results"]
    assert [(r["id"], r["review_flag"], r["review_reason"]) for r in others] == [(plain.pk, False, "")]


def test_period_close_reads_every_affiliates_history_with_one_query():
    from affiliates.tests.factories import AffiliateFactory

    with time_machine.travel(at("2026-11-05"), tick=False):
        world = World(CPA)
        others = [AffiliateFactory(email=f"a{n}@example.com") for n in range(3)]
        for affiliate in others:
            world.assign(affiliate)
        ReviewPolicyFactory(brand=world.brand, entry_rise_factor=Decimal("5"), min_history_entries=1)
        for affiliate in [world.affiliate, *others]:
            day_totals(affiliate, world.brand, last_day="2026-12-01", days=20, total="10.00")
            world.event(world.customer(affiliate=affiliate), T.FTD, "50.00", on="2026-11-02", run=False)
    with time_machine.travel(at("2026-12-02"), tick=False), CaptureQueriesContext(connection) as queries:
        booked = services.commission_period_close(brand_id=world.brand.pk, period="2026-11")
    assert len(booked) == 4 and all(e.review_flag for e in booked)  # 200.00 is 20x their 10.00 average
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("commissions_affiliatedaytotal" in s and s.lstrip().upper().startswith("SELECT") for s in sql) == 1
    assert sum("commissions_affiliatedaytotal" in s and s.lstrip().upper().startswith("INSERT") for s in sql) == 1


def test_a_flagged_pending_entry_whose_events_qualify_waits_on_hold(travel):
    from commissions.tasks import process_event
    from core.audit import audit_history
    from tracking.choices import EventStatus

    world = World({**CPA, "hold_days": 0})
    ReviewPolicyFactory(brand=world.brand, amount_over=Decimal("150.00"))
    ftd = world.event(world.customer(), T.FTD, "50.00", on="2026-11-02", status=EventStatus.PENDING)
    entry = CommissionEntry.objects.get(affiliate=world.affiliate)
    assert (entry.status, entry.review_flag) == (EntryStatus.PENDING, True)
    type(ftd).objects.filter(pk=ftd.pk).update(status=EventStatus.QUALIFIED)
    process_event(ftd.pk)
    entry.refresh_from_db()
    assert entry.status == EntryStatus.ON_HOLD  # its hold is over, but a person has not looked at it yet
    (record,) = audit_history(model=CommissionEntry, pks=[entry.pk])
    assert record.changes == {"status": ["pending", "on_hold"]}
    assert record.additional_data == {"reason": "Its events qualified. Flagged for review."}
