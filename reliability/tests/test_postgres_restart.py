"""PostgreSQL restarted under a stream of postbacks: while it is down the platform answers 503 problem+json
(never a 500, never an answer for an event it did not store), nothing is half-written, and once it is back the
same gunicorn and worker carry on (no restart of the platform) and every event is processed once."""

import subprocess
import time

import psycopg
import pytest

from reliability.processes import REPO, PostgresServer, RedisServer, call, wait_until

from .streams import PostbackStream

pytestmark = [pytest.mark.postgres, pytest.mark.broker, pytest.mark.faults]


@pytest.fixture
def private_postgres(deployment):
    with PostgresServer() as server:
        yield server
        deployment.stop()  # the platform stops while its database still answers, not after it is gone


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [str(REPO / ".venv/bin/python"), "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_postgresql_restart_answers_503_and_the_platform_recovers_by_itself(deployment, private_postgres):
    database_url = private_postgres.create_database("platform")
    with RedisServer() as redis:
        deployment.configure(
            database_url=database_url, redis_url=redis.url,
            INGEST_SWEEP_INTERVAL_SECONDS="2", INGEST_SWEEP_GRACE_SECONDS="3",
        )  # fmt: skip
        _manage(deployment.env, "migrate", "--noinput", "-v", "0")
        key = _manage(deployment.env, "create_api_key", "--name", "ops", "--scope", "management").split()[-1]
        web = deployment.gunicorn()
        status, _, _ = call("POST", f"{web.url}/api/v1/brands", key=key,
                            body={"slug": "pg-casino", "name": "PG Casino", "currency": "EUR"})  # fmt: skip
        assert status == 201
        status, _, source = call("POST", f"{web.url}/api/v1/sources", key=key,
                                 body={"slug": "pg-crm", "name": "PG CRM", "brand": "pg-casino"})  # fmt: skip
        assert status == 201, source
        deployment.worker()
        deployment.beat()

        stream = PostbackStream(web.url, "pg-crm", source["api_key"], prefix="pg", retry_pause_s=0.3).start()
        time.sleep(4)
        private_postgres.stop("fast")  # every connection is closed by the server
        time.sleep(2)
        health = call("GET", f"{web.url}/healthz")
        time.sleep(3)
        private_postgres.start()
        time.sleep(5)
        stream.stop()

        # then while the database was down the answers were 503 problem+json, with Retry-After, and nothing else
        print(f"postbacks: {len(stream.sent)}, answers: {dict(stream.answers)}")
        assert stream.unexpected == []
        assert stream.answers[503] > 0
        assert set(stream.answers) <= {200, 202, 503}, stream.answers
        assert health[0] == 503 and health[2]["checks"]["database"]["status"] == "down"
        # and every event sent was accepted in the end, by the same processes that saw the outage
        assert set(stream.accepted) == set(stream.sent)
        assert all(s.alive() for s in deployment.services)
        status, _, body = call("GET", f"{web.url}/healthz")
        assert status == 200, body

        with psycopg.connect(database_url, autocommit=True) as conn:

            def unprocessed() -> int:
                sql = "SELECT count(*) FROM integrations_inboundevent WHERE status = 'received'"
                return conn.execute(sql).fetchone()[0]

            assert wait_until(lambda: unprocessed() == 0, 60), deployment.logs()
            events = conn.execute(
                "SELECT e.external_id, i.status FROM tracking_conversionevent e "
                "JOIN integrations_inboundevent i ON i.id = e.inbound_id"
            ).fetchall()
            # one canonical event per event id sent, each from a processed inbound event: none half-written
            assert sorted(ext for ext, _ in events) == sorted(stream.sent)
            assert {status for _, status in events} == {"processed"}
            statuses = dict(conn.execute(
                "SELECT status, count(*) FROM integrations_inboundevent GROUP BY status"
            ).fetchall())  # fmt: skip
            assert statuses.get("processed") == len(stream.sent)
            assert set(statuses) <= {"processed", "duplicate"}, statuses
