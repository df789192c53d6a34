"""The benchmark run: fresh database, data through the ORM, gunicorn, wrk per scenario, table and JSON.

Every scenario is measured in the same run as the ceiling, with the same wrk settings, against the same
gunicorn; the table reports each one's requests/s as a share of the ceiling's. See bench/README.md.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import scenarios, server, wrk
from .report import ScenarioOutcome, format_table, outcome_json
from .spec import RequestSpec

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
# Celery queues a run fills when a broker is configured: nothing consumes them, so they are emptied after.
CELERY_QUEUES = ["default", "ingest", "commissions", "delivery", "celery"]
# gthread, 4 processes x 4 threads: measured best on 2 cores (see README "Server settings, and why").
DEFAULT_WORKER_CLASS = "gthread"
DEFAULT_WORKERS = 4
DEFAULT_WORKER_THREADS = 4


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark scenarios against gunicorn + PostgreSQL, each next to the ceiling in the same run.",
    )
    p.add_argument("scenarios", nargs="*", help=f"scenarios to run (default: all of {', '.join(scenarios.names())})")
    p.add_argument("--duration", type=float, default=10, help="seconds of measured load per scenario and round")
    p.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured load before each (0: none)")
    p.add_argument("--rounds", type=int, default=1, help="repeat ceiling + scenarios; the table shows medians")
    p.add_argument("--connections", type=int, default=16, help="wrk connections, kept open for the whole run")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (one leaves more CPU to the server)")
    p.add_argument("--timeout", type=float, default=30, help="wrk: a request slower than this is a timeout error")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn workers")
    p.add_argument(
        "--worker-class", default=DEFAULT_WORKER_CLASS, choices=["sync", "gthread"], help="gunicorn worker class"
    )
    p.add_argument(
        "--worker-threads",
        type=int,
        default=DEFAULT_WORKER_THREADS,
        help="threads per worker with --worker-class gthread",
    )
    p.add_argument("--port", type=int, default=8031, help="gunicorn listens on 127.0.0.1:PORT")
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL (no database)")
    p.add_argument("--db", default="bench", help="database name; dropped and created at start")
    p.add_argument("--keep-db", action="store_true", help="leave the database in place after the run")
    p.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", ""),
        help="broker and cache for gunicorn (default: $REDIS_URL; none: tasks are queued in memory, never run)",
    )
    p.add_argument("--no-install", action="store_true", help="do not try to install wrk when it is missing")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = p.parse_args(argv)
    if args.list:
        return args
    unknown = [n for n in args.scenarios if n not in scenarios.names()]
    if unknown:
        p.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(scenarios.names())}")
    chosen = args.scenarios or scenarios.names()
    args.scenarios = [scenarios.CEILING, *(n for n in dict.fromkeys(chosen) if n != scenarios.CEILING)]
    return args


def ensure_wrk(*, install: bool) -> None:
    if shutil.which("wrk"):
        return
    how = "apt-get update && apt-get install -y wrk   (Debian/Ubuntu; or build https://github.com/wg/wrk)"
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing it with apt-get", flush=True)
        done = subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True)
        if done.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True)
    if not shutil.which("wrk"):
        raise SystemExit(f"wrk is not installed. Install it with:\n  {how}")


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment of gunicorn and of this process's Django: only what the run sets, nothing ambient."""
    drop = ("DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "DEBUG")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"{args.pg}/{args.db}",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        BENCH_ENDPOINTS="true",
        SECRET_KEY=secrets.token_urlsafe(40),
        LOG_LEVEL="ERROR",  # not the probes' 404s, nor kombu's notes about the in-memory broker
        # Long enough that no worker reconnects mid-run, which would lose its backend's CPU from the count.
        CONN_MAX_AGE="600",
        PYTHONWARNINGS="ignore:No directory at:UserWarning",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    else:
        # No broker: tasks are enqueued in memory and never run, so requests pay for storing, as with a
        # broker, and not for processing inline (which is what CELERY_TASK_ALWAYS_EAGER would do).
        env.update(CELERY_BROKER_URL="memory://", CELERY_TASK_ALWAYS_EAGER="false")
    return env


def prepare(args: argparse.Namespace, env: dict[str, str]) -> tuple[dict[str, RequestSpec], dict[str, str]]:
    """Create and migrate the database, then run every scenario's setup(); return specs and the failures."""
    server.database_recreate(server_url=args.pg, name=args.db)
    os.environ.update(env)
    for key in set(os.environ) - set(env):
        del os.environ[key]
    import django
    from django.core.management import call_command

    django.setup()
    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"database {args.db}: migrated in {time.monotonic() - started:.1f}s", flush=True)
    specs, failed = {}, {}
    for name in args.scenarios:
        try:
            specs[name] = scenarios.load(name).setup()
        except Exception as exc:  # a scenario whose models or services are not there yet
            if name == scenarios.CEILING:
                raise
            failed[name] = f"setup failed: {type(exc).__name__}: {exc}"[:300]
    return specs, failed


def probe(port: int, spec: RequestSpec, uid: str) -> tuple[int, str]:
    """Send the scenario's request once (redirects not followed); return the status and the body's start."""
    path, body = spec.render(uid)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(spec.method, path, body=body.encode() if body is not None else None, headers=spec.headers)
        response = conn.getresponse()
        return response.status, response.read(300).decode(errors="replace")
    finally:
        conn.close()


def measure(args, spec: RequestSpec, *, port: int, workdir: Path, name: str, seconds: float) -> wrk.WrkResult:
    script = workdir / f"{name}.lua"
    script.write_text(wrk.render_script(spec, nonce=f"{name}{secrets.token_hex(4)}"))
    cmd = wrk.command(
        url=f"http://127.0.0.1:{port}",
        script=str(script),
        duration_s=seconds,
        connections=spec.connections or args.connections,
        threads=args.threads,
        timeout_s=args.timeout,
    )
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + args.timeout + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return wrk.parse_output(done.stdout)


def _git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for name in scenarios.names():
            print(name)
        return 0
    ensure_wrk(install=not args.no_install)
    if server.port_in_use(args.port):
        print(f"something already listens on 127.0.0.1:{args.port}: stop it or pick another --port", file=sys.stderr)
        return 1
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    env = server_env(args)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    gunicorn = server.Gunicorn(
        bind=f"127.0.0.1:{args.port}",
        env=env,
        workers=args.workers,
        worker_class=args.worker_class,
        threads=args.worker_threads,
        log=workdir / "gunicorn.log",
    )
    queues_were_empty = _queues_empty(args.redis_url)
    load_start = os.getloadavg()
    started_at = dt.datetime.now(dt.UTC)
    try:
        specs, failed = prepare(args, env)
        outcomes = {name: _outcome(name, specs.get(name), failed.get(name, "")) for name in args.scenarios}
        gunicorn.start()
        gunicorn.wait_ready(f"http://127.0.0.1:{args.port}/healthz")
        print(f"gunicorn: {' '.join(gunicorn.argv[1:6])}", flush=True)
        for name, spec in specs.items():
            status, body = probe(args.port, spec, uid=f"probe{secrets.token_hex(4)}")
            outcomes[name].probe = f"{status} {body[:200]}"
            if status == 404:
                if name == scenarios.CEILING:
                    raise RuntimeError("/bench/ceiling answered 404: BENCH_ENDPOINTS did not mount it")
                outcomes[name].unavailable = "404: endpoint not there yet"
            elif status not in spec.expect_status:
                print(f"  {name}: probe answered {status} (expected {spec.expect_status}): {body[:200]}", flush=True)
        for round_no in range(1, args.rounds + 1):
            for name, spec in specs.items():
                outcome = outcomes[name]
                if outcome.unavailable:
                    continue
                print(f"round {round_no}/{args.rounds}: {name} …", end=" ", flush=True)
                if args.warmup > 0:
                    measure(args, spec, port=args.port, workdir=workdir, name=name, seconds=args.warmup)
                server.wait_idle(gunicorn.process.pid)
                before = spec.count_stored() if spec.count_stored else None
                app0 = server.cpu_seconds(server.process_tree(gunicorn.process.pid))
                db0 = server.cpu_seconds(server.backend_pids(server_url=args.pg, name=args.db))
                result = measure(args, spec, port=args.port, workdir=workdir, name=name, seconds=args.duration)
                app1 = server.cpu_seconds(server.process_tree(gunicorn.process.pid))
                db1 = server.cpu_seconds(server.backend_pids(server_url=args.pg, name=args.db))
                if result.requests:
                    outcome.app_cpu_ms.append(server.cpu_delta(app0, app1) * 1000 / result.requests)
                    outcome.db_cpu_ms.append(server.cpu_delta(db0, db1) * 1000 / result.requests)
                if before is not None:
                    outcome.stored_per_s.append((spec.count_stored() - before) / result.duration_s)
                outcome.runs.append(result)
                server.wait_idle(gunicorn.process.pid)
                if result.requests:
                    print(f"{result.requests_per_s:,.0f} req/s, p99 {result.p99_ms:.1f} ms", flush=True)
                else:
                    print(f"no request completed in {args.duration:.0f}s: lengthen --duration", flush=True)
        ordered = [outcomes[n] for n in args.scenarios]
        print()
        print(format_table(ordered))
        path = _write_json(args, gunicorn, ordered, started_at=started_at, load_start=load_start)
        print(f"\nloadavg {load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end ({os.cpu_count()} CPUs)")
        print(f"result: {path.relative_to(REPO)}")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        if gunicorn.process is not None:
            print(gunicorn.log_tail(), file=sys.stderr)
        return 1
    finally:
        _cleanup(args, gunicorn, workdir, queues_were_empty)


def _outcome(name: str, spec: RequestSpec | None, failure: str) -> ScenarioOutcome:
    if spec is None:
        return ScenarioOutcome(name=name, unavailable=failure)
    return ScenarioOutcome(
        name=name,
        units_per_request=spec.units_per_request,
        unit=spec.unit,
        expect_status=spec.expect_status,
        units_in_body=spec.unit_pattern is not None,
        target_ratio=spec.target_ratio,
        target_units_per_s=spec.target_units_per_s,
        note=spec.note + (f" (wrk connections: {spec.connections})" if spec.connections else ""),
    )


def _queues_empty(redis_url: str) -> bool:
    if not redis_url:
        return True
    import redis

    client = redis.Redis.from_url(redis_url)
    return all(client.llen(q) == 0 for q in CELERY_QUEUES)


def _cleanup(args, gunicorn: server.Gunicorn, workdir: Path, queues_were_empty: bool) -> None:
    # Each step on its own: a failure in one must not leave the others undone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        gunicorn.stop()
    except Exception as exc:
        print(f"stopping gunicorn: {exc}", file=sys.stderr)
    if args.redis_url:
        if queues_were_empty:
            try:
                removed = server.redis_purge_queues(args.redis_url, CELERY_QUEUES)
                print(f"celery queues emptied ({removed} messages nobody was going to run)")
            except Exception as exc:
                print(f"emptying celery queues: {exc}", file=sys.stderr)
        else:
            print("celery queues held messages before the run: left alone", file=sys.stderr)
    server.database_release(server_url=args.pg, name=args.db, keep=args.keep_db)
    shutil.rmtree(workdir, ignore_errors=True)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _write_json(args, gunicorn, outcomes: list[ScenarioOutcome], *, started_at, load_start) -> Path:
    ceiling = next(o for o in outcomes if o.name == scenarios.CEILING)
    data = {
        "started_at": started_at.isoformat(),
        "commit": _git_commit(),
        "machine": {"cpus": os.cpu_count(), "loadavg_start": load_start, "loadavg_end": os.getloadavg()},
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "wrk_connections": args.connections,
            "wrk_threads": args.threads,
            "gunicorn": gunicorn.argv[1:],
            "broker": "redis" if args.redis_url else "memory (tasks never run)",
        },
        "scenarios": [outcome_json(o, ceiling) for o in outcomes],
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-{'-'.join(o.name for o in outcomes)}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path
