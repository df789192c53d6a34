"""Soak: a sustained mixed load for several minutes against gunicorn, a Celery worker and beat on loopback.

Clicks (`/t/<token>`), postbacks, events-API batches and partner reads run together at fixed rates (an open
loop: each kind sends on its own schedule, whatever the answers take), while a sampler records every few
seconds the resident memory of the web and worker processes and the backlog: inbound events stored and not
processed, outbox events not dispatched, deliveries pending, and the Celery queues' lengths. At the end it
waits for the backlog to drain and prints errors, throughput, latency percentiles, memory over time and the
backlog, and writes them to bench/results/<time>-soak.json. See bench/README.md "Soak".

    .venv/bin/python bench/soak.py                       # 5 minutes at the default rates
    .venv/bin/python bench/soak.py --duration 600 --clicks 80 --postbacks 40

It owns what it starts: a database on the PostgreSQL server (`--pg`, dropped at the end), a private
redis-server on a free port (broker and cache), gunicorn, the worker, beat and a webhook receiver; all are
stopped at the end, on Ctrl+C and on failure.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import server  # noqa: E402
from reliability.processes import Beat, RedisServer, Worker, free_port, platform_env  # noqa: E402
from reliability.receiver import TimedReceiver  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
QUEUES = ["celery", "default", "ingest", "commissions", "delivery"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/soak.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=300, help="seconds of measured load (default 300)")
    p.add_argument("--warmup", type=float, default=20, help="seconds of load before measuring (default 20)")
    p.add_argument("--clicks", type=float, default=40, help="tracking-link clicks per second")
    p.add_argument("--postbacks", type=float, default=8, help="postbacks per second")
    p.add_argument("--batches", type=float, default=0.1, help="events-API batches per second")
    p.add_argument("--batch-size", type=int, default=50, help="events per batch")
    p.add_argument("--partner-reads", type=float, default=2, help="partner API reads per second (stats, commissions)")
    p.add_argument("--sample", type=float, default=10, help="seconds between memory and backlog samples")
    p.add_argument("--drain", type=float, default=180, help="seconds to wait for the backlog to drain after the load")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (gthread)")
    p.add_argument("--worker-threads", type=int, default=4, help="threads per gunicorn worker")
    p.add_argument("--concurrency", type=int, default=4, help="Celery worker processes (prefork)")
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL (no database)")
    p.add_argument("--db", default="soak", help="database name; dropped and created at start, dropped at the end")
    p.add_argument("--keep-db", action="store_true", help="leave the database in place after the run")
    return p.parse_args(argv)


# --- load ------------------------------------------------------------------------------------------------
@dataclass
class Kind:
    """One kind of request: its rate, how to build the next one, and what came back."""

    name: str
    rate: float
    threads: int
    build: object  # callable(n) -> (method, path, headers, body)
    expect: tuple[int, ...]
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict = field(default_factory=lambda: defaultdict(int))
    errors: dict = field(default_factory=lambda: defaultdict(int))
    measuring: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0

    def next_n(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter


def _loop(kind: Kind, port: int, stop: threading.Event, offset: float) -> None:
    interval = kind.threads / kind.rate
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    due = time.monotonic() + offset * interval
    while not stop.is_set():
        wait = due - time.monotonic()
        if wait > 0 and stop.wait(wait):
            break
        due += interval
        method, path, headers, body = kind.build(kind.next_n())
        started = time.perf_counter()
        try:
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed while idle (gunicorn's keep-alive is a few seconds,
                # longer than the gap between two batches): once more on a new one, as HTTP clients do.
                conn.close()
                started = time.perf_counter()
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
            response.read()
            status = response.status
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            if kind.measuring:
                with kind.lock:
                    kind.errors[type(exc).__name__] += 1
            continue
        elapsed = (time.perf_counter() - started) * 1000
        if kind.measuring:
            with kind.lock:
                kind.latencies_ms.append(elapsed)
                kind.statuses[status] += 1
    conn.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the programme under load ------------------------------------------------------------------------------
def setup_programme(args, receiver_url: str) -> dict:
    """Brand, affiliate, link, source and keys through the ORM and services; a webhook endpoint for all events."""
    from affiliates import services as affiliate_services
    from affiliates.choices import AffiliateStatus
    from affiliates.models import Brand
    from core.keys import api_key_create
    from integrations.models import Source
    from integrations.webhooks.models import WebhookEndpoint
    from tracking.models import TrackingLink

    brand = Brand.objects.create(slug="soak-casino", name="Soak Casino", currency="EUR", timezone="UTC")
    affiliate = affiliate_services.affiliate_create(
        name="Soak Partner", email="soak-partner@example.com", status=AffiliateStatus.ACTIVE, country="DE"
    )
    link = TrackingLink.objects.create(
        token=secrets.token_urlsafe(16), name="soak", affiliate=affiliate, brand=brand,
        landing_url="https://casino.example.com/welcome",
    )  # fmt: skip
    source = Source.objects.create(slug="soak-crm", name="Soak CRM", brand=brand, rate_limit_per_minute=1_000_000)
    _, source_key = api_key_create(name="soak source", scope="source", source=source)
    _, partner_key = api_key_create(name="soak partner", scope="partner", affiliate=affiliate)
    WebhookEndpoint.objects.create(url=receiver_url, event_types=["*"], secret="whsec_" + "c29haw==" * 4)
    return {"token": link.token, "source": source.slug, "source_key": source_key, "partner_key": partner_key}


def kinds(args, programme: dict, nonce: str) -> list[Kind]:
    token, slug = programme["token"], programme["source"]
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", "Accept-Language": "de-DE"}
    source_auth = {"Authorization": f"Bearer {programme['source_key']}", "Content-Type": "application/json"}
    partner_auth = {"Authorization": f"Bearer {programme['partner_key']}"}

    def now() -> str:
        # Live traffic: events of the current month (a late event of a closed month re-closes the affiliate's
        # month, which is a different workload).
        return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    def click(n):
        return "GET", f"/t/{token}?sub1=soak&sub2={nonce}-{n}", browser, None

    def postback(n):
        # An FTD for a new customer every time, attributed through the tracking link; every tenth one repeats
        # the previous event (an operator's retry): answered 200 duplicate.
        m = n - 1 if n % 10 == 0 else n
        query = urlencode({
            "key": programme["source_key"], "type": "ftd", "event_id": f"pb-{nonce}-{m}",
            "customer_id": f"pbc-{nonce}-{m}", "amount": "50.00", "currency": "EUR",
            "occurred_at": now(), "tracking_token": token,
        })  # fmt: skip
        return "GET", f"/postback/{slug}/?{query}", {}, None

    def batch(n):
        events = []
        for i in range(args.batch_size):
            kind, amount = (("registration", None), ("deposit", "25.00"))[i % 2]
            event = {"event_id": f"b-{nonce}-{n}-{i}", "type": kind, "customer_id": f"bc-{nonce}-{n}-{i // 2}",
                     "occurred_at": now()}  # fmt: skip
            if amount:
                event.update(amount=amount, currency="EUR")
            else:
                event["tracking_token"] = token
            events.append(event)
        return "POST", "/api/v1/events", source_auth, json.dumps({"events": events}).encode()

    def partner(n):
        path = "/api/partner/v1/stats?group_by=day" if n % 2 else "/api/partner/v1/commissions?limit=50"
        return "GET", path, partner_auth, None

    return [
        Kind("click", args.clicks, 4, click, (302,)),
        Kind("postback", args.postbacks, 4, postback, (200, 202)),
        Kind("batch", args.batches, 1, batch, (202,)),
        Kind("partner_read", args.partner_reads, 2, partner, (200,)),
    ]


# --- sampling ----------------------------------------------------------------------------------------------
def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def backlog(conn, redis_client) -> dict:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM integrations_inboundevent WHERE status = 'received'),"
        " (SELECT count(*) FROM webhooks_outboxevent WHERE dispatched_at IS NULL),"
        " (SELECT count(*) FROM webhooks_delivery WHERE status = 'pending')"
    ).fetchone()
    queues = {q: redis_client.llen(q) for q in QUEUES}
    return {"inbound_unprocessed": row[0], "outbox_undispatched": row[1], "deliveries_pending": row[2],
            "queued_messages": sum(queues.values()), "queues": queues}  # fmt: skip


def sample(started: float, web_pid: int, worker_pid: int, conn, redis_client) -> dict:
    web = server.process_tree(web_pid)
    worker = server.process_tree(worker_pid)
    return {
        "t": round(time.monotonic() - started, 1),
        "web_rss_mb": round(rss_mb(web), 1),
        "web_processes": len(web),
        "worker_rss_mb": round(rss_mb(worker), 1),
        "worker_processes": len(worker),
        **backlog(conn, redis_client),
    }


# --- the run -----------------------------------------------------------------------------------------------
def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    redis = RedisServer().start()
    receiver = TimedReceiver(script=[200]).start()
    database_url = f"{args.pg}/{args.db}"
    env = platform_env(database_url=database_url, redis_url=redis.url, LOG_LEVEL="ERROR", CONN_MAX_AGE="600",
                       SECRET_KEY=secrets.token_urlsafe(40))  # fmt: skip
    port = free_port()
    web = server.Gunicorn(bind=f"127.0.0.1:{port}", env=env, workers=args.workers, worker_class="gthread",
                          threads=args.worker_threads, log=workdir / "gunicorn.log")  # fmt: skip
    worker = Worker(env, workdir / "worker.log", queues="celery,default,ingest,commissions,delivery")
    worker.argv = [a for a in worker.argv if a not in ("-P", "solo")] + ["-c", str(args.concurrency)]
    beat = Beat(env, workdir / "beat.log")
    stop = threading.Event()
    threads: list[threading.Thread] = []
    started_at = dt.datetime.now(dt.UTC)
    try:
        server.database_recreate(server_url=args.pg, name=args.db)
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        programme = setup_programme(args, receiver.url)
        from django.db import connections

        connections.close_all()
        web.start()
        web.wait_ready(f"http://127.0.0.1:{port}/healthz")
        worker.start().wait_ready()
        beat.start()
        print(f"gunicorn {args.workers}x{args.worker_threads} on :{port}, worker prefork -c {args.concurrency}, beat",
              flush=True)  # fmt: skip

        import psycopg
        import redis as redis_lib

        pg = psycopg.connect(database_url, autocommit=True)
        rc = redis_lib.Redis.from_url(redis.url)
        load = kinds(args, programme, secrets.token_hex(3))
        for kind in load:
            for i in range(kind.threads):
                t = threading.Thread(target=_loop, args=(kind, port, stop, i / kind.threads), daemon=True)
                t.start()
                threads.append(t)
        print(f"warm-up {args.warmup:.0f}s …", flush=True)
        time.sleep(args.warmup)
        for kind in load:
            kind.measuring = True
        measure_start = time.monotonic()
        samples = [sample(measure_start, web.process.pid, worker.pid, pg, rc)]
        cpu0 = server.cpu_seconds(server.process_tree(web.process.pid) + server.process_tree(worker.pid))
        while time.monotonic() - measure_start < args.duration:
            time.sleep(min(args.sample, args.duration - (time.monotonic() - measure_start)) or 0.01)
            samples.append(sample(measure_start, web.process.pid, worker.pid, pg, rc))
            s = samples[-1]
            print(f"  t={s['t']:>5.0f}s web {s['web_rss_mb']:.0f} MB, worker {s['worker_rss_mb']:.0f} MB, "
                  f"inbound {s['inbound_unprocessed']}, outbox {s['outbox_undispatched']}, "
                  f"deliveries {s['deliveries_pending']}, queued {s['queued_messages']}", flush=True)  # fmt: skip
        for kind in load:
            kind.measuring = False
        elapsed = time.monotonic() - measure_start
        cpu1 = server.cpu_seconds(server.process_tree(web.process.pid) + server.process_tree(worker.pid))
        stop.set()
        for t in threads:
            t.join(timeout=35)
        drain_start = time.monotonic()
        while time.monotonic() - drain_start < args.drain:
            b = backlog(pg, rc)
            if not (b["inbound_unprocessed"] or b["outbox_undispatched"] or b["deliveries_pending"]
                    or b["queued_messages"]):  # fmt: skip
                break
            time.sleep(1)
        drained = backlog(pg, rc)
        drain_s = time.monotonic() - drain_start
        stored = pg.execute(
            "SELECT (SELECT count(*) FROM integrations_inboundevent),"
            " (SELECT count(*) FROM tracking_conversionevent), (SELECT count(*) FROM tracking_click),"
            " (SELECT count(*) FROM webhooks_delivery WHERE status='succeeded')"
        ).fetchone()
        report = _report(args, load, samples, elapsed, drained, drain_s, stored, cpu1, cpu0, started_at, receiver)
        print(report["table"])
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{started_at.strftime('%Y%m%dT%H%M%SZ')}-soak.json"
        path.write_text(json.dumps({k: v for k, v in report.items() if k != "table"}, indent=2, default=str) + "\n")
        print(f"result: {path.relative_to(REPO)}")
        pg.close()
        return 0 if report["verdict"]["ok"] else 1
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        return 130
    finally:
        stop.set()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for service in (beat, worker):
            service.stop()
        web.stop()
        receiver.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        server.database_release(server_url=args.pg, name=args.db, keep=args.keep_db)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _report(args, load, samples, elapsed, drained, drain_s, stored, cpu1, cpu0, started_at, receiver) -> dict:
    rows = []
    total_errors = 0
    for kind in load:
        done = sum(kind.statuses.values())
        unexpected = sum(n for status, n in kind.statuses.items() if status not in kind.expect)
        errors = sum(kind.errors.values())
        total_errors += unexpected + errors
        rows.append({
            "kind": kind.name, "rate_asked": kind.rate, "requests": done, "req_per_s": round(done / elapsed, 1),
            "p50_ms": round(percentile(kind.latencies_ms, 0.50), 1),
            "p95_ms": round(percentile(kind.latencies_ms, 0.95), 1),
            "p99_ms": round(percentile(kind.latencies_ms, 0.99), 1),
            "max_ms": round(max(kind.latencies_ms, default=0), 1),
            "statuses": dict(kind.statuses), "socket_errors": dict(kind.errors), "unexpected": unexpected,
        })  # fmt: skip
    minute = max(1, int(60 / args.sample))
    first = samples[1 : 1 + minute] or samples[:1]
    last = samples[-minute:]

    def mean(key, part):
        return round(statistics.mean(s[key] for s in part), 1)

    memory = {
        "web_rss_mb_first_minute": mean("web_rss_mb", first), "web_rss_mb_last_minute": mean("web_rss_mb", last),
        "worker_rss_mb_first_minute": mean("worker_rss_mb", first),
        "worker_rss_mb_last_minute": mean("worker_rss_mb", last),
    }  # fmt: skip
    backlog_keys = ("inbound_unprocessed", "outbox_undispatched", "deliveries_pending", "queued_messages")
    backlog_summary = {
        key: {"max": max(s[key] for s in samples), "last_minute_mean": mean(key, last),
              "first_minute_mean": mean(key, first), "after_drain": drained[key]}
        for key in backlog_keys
    }  # fmt: skip
    growth = {
        "web": memory["web_rss_mb_last_minute"] / max(1, memory["web_rss_mb_first_minute"]) - 1,
        "worker": memory["worker_rss_mb_last_minute"] / max(1, memory["worker_rss_mb_first_minute"]) - 1,
    }
    backlog_growing = any(
        backlog_summary[k]["last_minute_mean"] > 2 * backlog_summary[k]["first_minute_mean"] + 50 for k in backlog_keys
    )
    left = any(drained[k] for k in backlog_keys)
    ok = total_errors == 0 and max(growth.values()) < 0.10 and not backlog_growing and not left
    verdict = {"ok": ok, "errors": total_errors, "rss_growth": {k: round(v, 3) for k, v in growth.items()},
               "backlog_growing": backlog_growing, "drain_s": round(drain_s, 1)}  # fmt: skip
    cpu_s = server.cpu_delta(cpu0, cpu1)
    lines = [
        f"soak: {elapsed:.0f}s measured after {args.warmup:.0f}s warm-up, loadavg {os.getloadavg()[0]:.2f}",
        f"{'kind':<13}{'req/s':>8}{'requests':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}  errors",
    ]
    for r in rows:
        errors = r["unexpected"] + sum(r["socket_errors"].values())
        lines.append(
            f"{r['kind']:<13}{r['req_per_s']:>8}{r['requests']:>10}{r['p50_ms']:>9}{r['p95_ms']:>9}"
            f"{r['p99_ms']:>9}{r['max_ms']:>9}  {errors}"
        )
    lines += [
        f"memory (RSS, MB): web {memory['web_rss_mb_first_minute']} -> {memory['web_rss_mb_last_minute']} "
        f"(first -> last minute), worker {memory['worker_rss_mb_first_minute']} -> "
        f"{memory['worker_rss_mb_last_minute']}",
        "backlog (max / first-minute mean / last-minute mean / after drain): "
        + ", ".join(
            f"{k} {v['max']}/{v['first_minute_mean']}/{v['last_minute_mean']}/{v['after_drain']}"
            for k, v in backlog_summary.items()
        ),
        f"drained in {drain_s:.0f}s; stored: {stored[0]} inbound, {stored[1]} events, {stored[2]} clicks, "
        f"{stored[3]} webhooks delivered ({len(receiver.arrivals)} received)",
        f"cpu of web + worker: {cpu_s:.0f}s over {elapsed:.0f}s",
        f"verdict: {'OK' if ok else 'NOT OK'} {verdict}",
    ]
    return {
        "started_at": started_at.isoformat(),
        "settings": vars(args),
        "machine": {"cpus": os.cpu_count(), "loadavg_end": os.getloadavg()},
        "kinds": rows,
        "memory": memory,
        "backlog": backlog_summary,
        "samples": samples,
        "stored": {"inbound": stored[0], "events": stored[1], "clicks": stored[2], "deliveries_succeeded": stored[3]},
        "webhooks_received": len(receiver.arrivals),
        "cpu_seconds": round(cpu_s, 1),
        "verdict": verdict,
        "table": "\n".join(lines),
    }


if __name__ == "__main__":
    sys.exit(main())
