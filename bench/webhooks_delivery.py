#!/usr/bin/env python3
"""Webhook delivery throughput: deliveries per second to a local receiver that verifies every signature.

    .venv/bin/python bench/webhooks_delivery.py [--events 10000] [--workers 2] [--per-transaction 100] [--backlog]

What it runs: PostgreSQL (database `h7_bench`, created if missing), Redis db 7 as the Celery broker, a local
receiver on 127.0.0.1:8070 (its own process, asyncio) that verifies each request with the `standardwebhooks`
library and answers 200, and `--workers` Celery worker processes (solo pool, queue `delivery`) started from
this checkout. Events are published through `outbox_publish` in transactions of `--per-transaction` events,
as a batch job (a commission run, an import) would; delivery starts as each transaction commits.

It reports the end-to-end rate (first publish to last successful delivery) and the delivery rate (first to
last attempt, from the attempt log), and fails if any delivery was not verified or not successful.
Targets: at least 500 deliveries per second with 2 worker processes.
"""

import argparse
import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DB_NAME = "h7_bench"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/7")
RECEIVER_PORT = int(os.environ.get("BENCH_RECEIVER_PORT", "8070"))


def bench_env() -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{PG_URL}/{DB_NAME}",
        CELERY_BROKER_URL=BROKER,
        CELERY_TASK_ALWAYS_EAGER="0",
        CACHE_URL="locmemcache://",
        WEBHOOKS_ALLOW_PRIVATE_TARGETS="1",
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_LEVEL="WARNING",
    )
    return env


# --- The receiver (its own process) ----------------------------------------------------------------


def receive(secret: str, ports: list[int], verified, rejected, ready, bound) -> None:
    from standardwebhooks import Webhook

    hook = Webhook(secret)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                try:
                    hook.verify(body, headers)
                    verified.value += 1
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                except Exception:
                    rejected.value += 1
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = None
        for port in ports:
            try:
                server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=2048)
            except OSError:
                continue
            bound.value = port
            break
        ready.set()
        if server is None:
            return
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- The run -------------------------------------------------------------------------------------


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def start_workers(count: int, env: dict) -> list[subprocess.Popen]:
    workers = []
    for n in range(count):
        workers.append(
            subprocess.Popen(
                [
                    str(REPO / ".venv/bin/celery"),
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    "delivery",
                    "-P",
                    "solo",
                    "-n",
                    f"h7-bench-{n}@%h",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                    "-l",
                    "WARNING",
                ],
                cwd=REPO,
                env=env,
                start_new_session=True,
            )
        )
    return workers


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-transaction", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--backlog",
        action="store_true",
        help="publish everything first, then start the workers: delivery does not share the CPU with publishing",
    )
    args = parser.parse_args()

    env = bench_env()
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0)
    subprocess.run(["redis-cli", "-u", BROKER, "DEL", "delivery", "default"], check=False, capture_output=True)

    from integrations.webhooks.models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
    from integrations.webhooks.outbox import outbox_publish
    from integrations.webhooks.services import endpoint_create

    Delivery.objects.all().delete()
    OutboxEvent.objects.all().delete()
    WebhookEndpoint.objects.all().delete()
    from integrations.webhooks.signing import secret_generate

    secret = secret_generate()
    verified, rejected, bound = (multiprocessing.Value("i", 0) for _ in range(3))
    ready = multiprocessing.Event()
    ports = [RECEIVER_PORT, *range(RECEIVER_PORT + 1, RECEIVER_PORT + 10)]
    receiver = multiprocessing.Process(target=receive, args=(secret, ports, verified, rejected, ready, bound))
    receiver.start()
    if not ready.wait(30) or not bound.value:
        receiver.terminate()
        raise SystemExit(f"the receiver could not listen on any of ports {ports[0]}-{ports[-1]}")
    endpoint, _ = endpoint_create(url=f"http://127.0.0.1:{bound.value}/hooks", event_types=["*"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
    workers = []
    try:
        if not args.backlog:
            workers = start_workers(args.workers, env)
            time.sleep(3)  # let the workers connect to the broker before the clock starts
        started = time.monotonic()
        published = 0
        while published < args.events:
            size = min(args.per_transaction, args.events - published)
            with transaction.atomic():
                for n in range(size):
                    outbox_publish(
                        type="commission.approved",
                        data={"id": published + n, "affiliate": 1, "amount": "200.00", "currency": "EUR"},
                        affiliate_id=1,
                    )
            published += size
        publish_seconds = time.monotonic() - started
        if args.backlog:
            started = time.monotonic()
            workers = start_workers(args.workers, env)
        deadline = started + args.timeout
        done = 0
        while time.monotonic() < deadline:
            done = Delivery.objects.filter(endpoint=endpoint, status="succeeded").count()
            if done >= args.events:
                break
            time.sleep(0.1)
        finished = time.monotonic()
    finally:
        stop(workers)
        receiver.terminate()
        receiver.join(5)

    from django.db.models import Max, Min

    span = DeliveryAttempt.objects.aggregate(first=Min("at"), last=Max("at"))
    attempts = DeliveryAttempt.objects.count()
    delivery_seconds = (span["last"] - span["first"]).total_seconds() if attempts else 0
    end_to_end = finished - started
    print(
        f"events published          {args.events} in {publish_seconds:.2f} s ({args.per_transaction} per transaction)"
    )
    print(f"deliveries succeeded      {done} / {args.events}   attempts {attempts}")
    print(f"receiver verified         {verified.value}   rejected {rejected.value}")
    print(f"end to end                {end_to_end:.2f} s   {done / end_to_end:.0f} deliveries/s")
    if delivery_seconds:
        print(f"delivery (attempt log)    {delivery_seconds:.2f} s   {attempts / delivery_seconds:.0f} deliveries/s")
    threads = os.environ.get("WEBHOOKS_DELIVERY_THREADS", "64")
    print(f"workers                   {args.workers} processes, {threads} threads each")
    ok = done == args.events and rejected.value == 0 and verified.value >= args.events
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
