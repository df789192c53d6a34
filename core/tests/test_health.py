"""`GET /healthz`: 200 with database, broker and worker state; 503 only when the database is down."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.db import OperationalError, connection
from django.test import override_settings

from core.health import record_heartbeat

pytestmark = pytest.mark.django_db


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_healthz_reports_every_part_and_needs_no_key(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok", "vendor": connection.vendor}
    assert body["checks"]["broker"]["status"] == "inline"
    assert body["checks"]["worker"] == {"status": "inline", "lag_seconds": 0}
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_is_503_when_the_database_is_unreachable(client):
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("connection refused")):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"] == {"status": "down", "error": "OperationalError"}


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_broker_down_is_reported_but_still_200(client):
    failing = mock.MagicMock()
    failing.__enter__.return_value.ensure_connection.side_effect = OSError("connection refused")
    with mock.patch("config.celery.app.connection_for_write", return_value=failing):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == {"status": "down", "error": "OSError"}


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_broker_up_is_ok(client):
    with mock.patch("config.celery.app.connection_for_write"):
        response = client.get("/healthz")

    assert response.json()["checks"]["broker"] == {"status": "ok"}


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
@pytest.mark.parametrize(
    "beat_age, expected",
    [
        (None, {"status": "unknown", "lag_seconds": None}),
        (dt.timedelta(seconds=30), {"status": "ok", "lag_seconds": 30.0}),
        (dt.timedelta(minutes=5), {"status": "lagging", "lag_seconds": 300.0}),
    ],
)
def test_worker_lag_comes_from_the_last_heartbeat(client, beat_age, expected):
    from django.core.cache import cache

    cache.clear()
    now = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
    with mock.patch("config.celery.app.connection_for_write"), time_machine.travel(now, tick=False) as traveller:
        if beat_age is not None:
            traveller.move_to(now - beat_age)
            record_heartbeat()
            traveller.move_to(now)
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["worker"] == expected


def test_healthz_refuses_other_methods_with_a_problem(client):
    response = client.post("/healthz")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert response["Allow"] == "GET, HEAD"
