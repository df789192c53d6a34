#!/usr/bin/env python3
"""Report queries on the large data set: p50 and p95 of each, end to end through the API and the admin.

    .venv/bin/python bench/reports_bench.py [--db ap_reports_bench] [--repeat 15]
    .venv/bin/python bench/reports_bench.py --upkeep --db bench_reports_e2e

Reports: on the database `bench/reports_generate.py` made, each request below runs `--repeat` times (after
one unmeasured warm-up) in this process through Django's test client (authentication, the selector, the
serializer or the CSV, the admin's template), with ranges and affiliates varying between repetitions
(random, seeded). Targets: median under 300 ms and p95 under 1 s per report call.

Upkeep (`--upkeep`): on a database left by `bench/ingest_e2e.py` (which processed events with their
rollup marks), rewrites every marked (affiliate, day) and its cohorts as the beat task does, and prints
the time and the cost per event processed.
"""

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.server import django_standalone  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
UTC = dt.UTC


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def reports(repeat: int, seed: int) -> list[tuple[str, float, float, int]]:
    from django.test import Client
    from django.utils import timezone

    from affiliates.models import Affiliate
    from core.keys import api_key_create
    from core.models import User
    from tracking.models import Click

    rng = random.Random(seed)
    _, key = api_key_create(name="bench reports", scope="management")
    mgmt = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    by_activity = list(
        Click.objects.filter(created_at__gte=timezone.now() - dt.timedelta(days=3))
        .values_list("affiliate_id", flat=True)
        .distinct()[:2000]
    )
    top = Affiliate.objects.filter(pk__in=by_activity).order_by("pk").values_list("pk", flat=True)
    affiliates = list(top) or list(Affiliate.objects.values_list("pk", flat=True)[:100])
    partners = {}

    def partner(affiliate_id: int) -> Client:
        if affiliate_id not in partners:
            affiliate = Affiliate.objects.get(pk=affiliate_id)
            _, raw = api_key_create(name=f"bench {affiliate_id}", scope="partner", affiliate=affiliate)
            partners[affiliate_id] = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return partners[affiliate_id]

    admin = Client()
    user = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
        "bench-admin", "bench@example.com", "bench"
    )
    admin.force_login(user)
    today = timezone.now().astimezone(UTC).date()

    def days_back(n: int) -> str:
        end = today - dt.timedelta(days=rng.randrange(0, 30))
        return f"from={end - dt.timedelta(days=n - 1)}&to={end}"

    def moments_back(n: int) -> str:
        end = timezone.now() - dt.timedelta(hours=rng.randrange(0, 500), minutes=rng.randrange(60))
        start = end - dt.timedelta(days=n)
        return f"from={start:%Y-%m-%dT%H:%M:%S}Z&to={end:%Y-%m-%dT%H:%M:%S}Z"

    def aff() -> int:
        return rng.choice(affiliates)

    cases = [
        ("management day, 30 days", lambda: (mgmt, f"/api/v1/reports?group_by=day&{days_back(30)}")),
        ("management brand, 30 days", lambda: (mgmt, f"/api/v1/reports?group_by=brand&{days_back(30)}")),
        ("management affiliate, 30 days", lambda: (mgmt, f"/api/v1/reports?group_by=affiliate&{days_back(30)}")),
        ("management country, 30 days", lambda: (mgmt, f"/api/v1/reports?group_by=country&{days_back(30)}")),
        ("management link, 30 days", lambda: (mgmt, f"/api/v1/reports?group_by=link&{days_back(30)}")),
        ("management sub1, 30 days", lambda: (mgmt, f"/api/v1/reports?group_by=sub1&{days_back(30)}")),
        ("management sub2, 30 days", lambda: (mgmt, f"/api/v1/reports?group_by=sub2&{days_back(30)}")),
        ("management day, 366 days", lambda: (mgmt, f"/api/v1/reports?group_by=day&{days_back(366)}")),
        ("management affiliate, 366 days", lambda: (mgmt, f"/api/v1/reports?group_by=affiliate&{days_back(366)}")),
        (
            "management affiliate, 30 days, CSV",
            lambda: (mgmt, f"/api/v1/reports?group_by=affiliate&format=csv&{days_back(30)}"),
        ),
        (
            "management one affiliate by sub2, 90 days",
            lambda: (mgmt, f"/api/v1/reports?group_by=sub2&affiliate={aff()}&{days_back(90)}"),
        ),
        (
            "management day, 30 days from a time of day (raw edges)",
            lambda: (mgmt, f"/api/v1/reports?group_by=day&{moments_back(30)}"),
        ),
        ("partner stats day, 30 days", lambda: (partner(aff()), f"/api/partner/v1/stats?group_by=day&{days_back(30)}")),
        (
            "partner stats sub1, 30 days",
            lambda: (partner(aff()), f"/api/partner/v1/stats?group_by=sub1&{days_back(30)}"),
        ),
        (
            "partner stats country, from a time of day (raw edges)",
            lambda: (partner(aff()), f"/api/partner/v1/stats?group_by=country&{moments_back(30)}"),
        ),
        ("cohorts, 12 months", lambda: (mgmt, "/api/v1/reports/cohorts")),
        ("cohorts of one affiliate, 12 months", lambda: (mgmt, f"/api/v1/reports/cohorts?affiliate={aff()}")),
        ("admin report page, 30 days by day", lambda: (admin, f"/admin/reports/report/?group_by=day&{days_back(30)}")),
        ("admin cohort page", lambda: (admin, "/admin/reports/report/cohorts/")),
        ("admin changelist: clicks", lambda: (admin, "/admin/tracking/click/")),
        ("admin changelist: inbound events", lambda: (admin, "/admin/integrations/inboundevent/")),
        ("admin changelist: commission entries", lambda: (admin, "/admin/commissions/commissionentry/")),
    ]
    out = []
    for name, make in cases:
        timings, status = [], 0
        for i in range(repeat + 1):
            client, url = make()
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            status = response.status_code
            if status != 200:
                print(f"  {name}: {url} answered {status}: {response.content[:300]!r}")
                break
            if i:
                timings.append(elapsed)
        if timings:
            out.append((name, statistics.median(timings), percentile(timings, 0.95), status))
            print(f"{name:58} p50 {out[-1][1]:8.1f} ms   p95 {out[-1][2]:8.1f} ms", flush=True)
    return out


def upkeep_cost() -> None:
    from django.db.models import Min

    from reports import upkeep
    from reports.models import RollupDirty, RollupState
    from tracking.models import ConversionEvent

    events = ConversionEvent.objects.count()
    markers = RollupDirty.objects.count()
    pairs = RollupDirty.objects.values("affiliate_id", "day").distinct().count()
    state = upkeep.state()
    if state.covered_from is None:
        first = ConversionEvent.objects.aggregate(m=Min("occurred_at"))["m"]
        RollupState.objects.filter(pk=state.pk).update(covered_from=upkeep.day_of(first) if first else None)
    cpu, started = time.process_time(), time.perf_counter()
    result = upkeep.rollups_refresh(max_batches=100_000)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"events processed with marks: {events:,}; markers: {markers:,} for {pairs:,} (affiliate, day) pairs")
    print(f"refresh: {result.pairs:,} pairs, {result.cohorts:,} cohort months, {result.rows:,} rollup rows")
    print(f"refresh took {wall:.2f} s wall ({cpu:.2f} s in this process, the rest in PostgreSQL)")
    print(f"per event processed: {wall / max(1, events) * 1e6:.1f} µs of wall time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="ap_reports_bench")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--upkeep", action="store_true", help="time the rollup upkeep of an ingest_e2e database")
    args = parser.parse_args()
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    django_standalone(database_url=f"{PG_URL}/{args.db}", broker_url="memory://")
    if args.upkeep:
        upkeep_cost()
        return 0
    results = reports(args.repeat, args.seed)
    worst = max((r[1] for r in results if not r[0].startswith("admin changelist")), default=0)
    worst95 = max((r[2] for r in results if not r[0].startswith("admin changelist")), default=0)
    print(f"report calls: worst median {worst:.0f} ms (target < 300), worst p95 {worst95:.0f} ms (target < 1000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
