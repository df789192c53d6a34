#!/usr/bin/env python3
"""What review flags cost on the booking path: FTD events booked one by one, without and with a review policy.

    .venv/bin/python bench/review_booking.py [--affiliates 2000] [--events 4000] [--history-days 90]

What it runs: PostgreSQL database `bench_review` (dropped and created), migrated from this checkout. One casino
brand with a CPA deal (50.00 EUR, 30-day hold) as the brand default, `--affiliates` active affiliates, each
with `--history-days` days of booked history in AffiliateDayTotal, and `--events` FTDs of as many customers
spread over the affiliates (written with COPY, not timed). Tasks are queued on an in-memory broker (the outbox
hand-over is never run).

What it times: `commissions.services.commission_process_event` (what the commission worker runs for each
event), one event at a time in this process, for the first half of the events with no review policy, then
for the second half with a policy on every threshold (amount, entry rise and day rise), so each booking reads
its affiliate's history. It reports events per second and database queries per event for both halves, and
how many entries were flagged.
"""

import argparse
import datetime as dt
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.commissions_recompute import copy_rows  # noqa: E402
from bench.server import database_drop, database_recreate, django_standalone  # noqa: E402

DB_NAME = "bench_review"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


def generate(n_affiliates: int, n_events: int, history_days: int) -> dict:
    from affiliates import services as affiliate_services
    from affiliates.models import Affiliate, Brand
    from commissions.models import AffiliateDayTotal
    from integrations.models import Source
    from tracking.models import ConversionEvent, Customer

    brand = Brand.objects.create(slug="bench-casino", name="Bench Casino", timezone="Europe/Malta", currency="EUR")
    source = Source.objects.create(slug="bench-crm", name="Bench CRM", brand=brand)
    deal = affiliate_services.deal_create(
        brand=brand, effective_from=dt.date(2026, 1, 1),
        terms={"name": "CPA", "kind": "cpa", "currency": "EUR", "cpa_amount": "50.00", "hold_days": 30,
               "qualification": {"min_ftd": "20.00", "window_days": 30}},
    )  # fmt: skip
    affiliate_services.deal_assignment_create(deal=deal, affiliate=None, valid_from=dt.date(2026, 1, 1))
    Affiliate.objects.bulk_create(
        [Affiliate(name=f"Partner {i}", email=f"p{i}@bench.example", status="active") for i in range(n_affiliates)]
    )
    affiliates = list(Affiliate.objects.order_by("pk").values_list("pk", flat=True))
    today = dt.date.today()
    copy_rows(
        AffiliateDayTotal,
        [
            {"affiliate_id": a, "brand_id": brand.pk, "currency": "EUR", "day": today - dt.timedelta(days=d),
             "total": Decimal("150.000"), "entries": 3}
            for a in affiliates for d in range(1, history_days + 1)
        ],
    )  # fmt: skip
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    copy_rows(
        Customer,
        [
            {"brand_id": brand.pk, "external_id": f"C{i}", "affiliate_id": affiliates[i % n_affiliates],
             "attribution_method": "affiliate_id", "country": "DE", "registered_at": start}
            for i in range(n_events)
        ],
    )  # fmt: skip
    customers = list(Customer.objects.order_by("pk").values_list("pk", "affiliate_id"))
    copy_rows(
        ConversionEvent,
        [
            {"source_id": source.pk, "external_id": f"E{n}", "brand_id": brand.pk, "type": "ftd",
             "status": "qualified", "customer_id": customer_id, "affiliate_id": affiliate_id,
             "amount": Decimal("50.00"), "currency": "EUR", "amount_base": Decimal("50.00"), "fx_rate": Decimal("1"),
             "occurred_at": start + dt.timedelta(hours=1), "fx_date": start.date(), "data": {}, "hints": {}}
            for n, (customer_id, affiliate_id) in enumerate(customers)
        ],
    )  # fmt: skip
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"brand": brand, "events": list(ConversionEvent.objects.order_by("pk").values_list("pk", flat=True))}


def run(label: str, event_ids: list[int]) -> float:
    from django.db import connection

    from commissions.services import commission_process_event

    count = [0]

    def counted(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    t, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(counted):
        for event_id in event_ids:
            commission_process_event(event_id=event_id)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    queries = count[0]
    rate = len(event_ids) / seconds
    print(f"{label}: {len(event_ids):,} events in {seconds:.1f}s wall ({cpu:.1f}s CPU), {rate:,.0f} events/s, "
          f"{queries / len(event_ids):.1f} queries per event")  # fmt: skip
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--affiliates", type=int, default=2000)
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--history-days", type=int, default=90)
    parser.add_argument("--keep", action="store_true", help="Keep the database (default: drop it at the end).")
    args = parser.parse_args()
    database_recreate(server_url=PG_URL, name=DB_NAME)
    django_standalone(database_url=f"{PG_URL}/{DB_NAME}", broker_url="memory://")
    world = generate(args.affiliates, args.events, args.history_days)
    from commissions.models import CommissionEntry, ReviewPolicy

    half = len(world["events"]) // 2
    # warm up (first queries, caches) on a few events of the first half, not timed
    for event_id in world["events"][:20]:
        from commissions.services import commission_process_event

        commission_process_event(event_id=event_id)
    plain = run("no review policy", world["events"][20:half])
    ReviewPolicy.objects.create(brand=world["brand"], amount_over=Decimal("40.00"), entry_rise_factor=Decimal("5"),
                                day_rise_factor=Decimal("3"), min_history_entries=10)  # fmt: skip
    policed = run("review policy (amount, entry rise, day rise)", world["events"][half:])
    flagged = CommissionEntry.objects.filter(review_flag=True).count()
    print(f"flagged: {flagged:,} of {CommissionEntry.objects.count():,} entries; "
          f"with the policy: {policed / plain:.0%} of the rate without")  # fmt: skip
    if not args.keep:
        from django.db import connections

        connections.close_all()
        database_drop(server_url=PG_URL, name=DB_NAME)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
