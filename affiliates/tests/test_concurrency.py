"""Races that only a real database shows: two overlapping assignments created at once, one key twice."""

import datetime as dt
import threading

import pytest
from django.db import connection
from rest_framework.exceptions import ValidationError

from affiliates import services
from affiliates.models import DealAssignment
from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(*calls):
    """Run each call in its own thread and connection, released at the same moment."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as exc:  # the outcome under test
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.parametrize("default", [False, True])
def test_concurrent_overlapping_assignments_make_exactly_one(default):
    deal = DealFactory(brand=BrandFactory())
    affiliate = None if default else AffiliateFactory()

    def create(start):
        return lambda: services.deal_assignment_create(deal=deal, affiliate=affiliate, valid_from=start)

    outcomes = run_together(*(create(dt.date(2026, 1, day)) for day in (1, 2, 3, 4)))

    assert sum(isinstance(o, DealAssignment) for o in outcomes) == 1
    assert sum(isinstance(o, ValidationError) for o in outcomes) == 3
    assert DealAssignment.objects.filter(affiliate=affiliate).count() == 1


def test_concurrent_requests_with_one_idempotency_key_create_one_object(api):
    from affiliates.models import Brand

    client_key = api("management").raw_key
    payload = {"slug": "race", "name": "Race"}

    def post():
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {client_key}")
        return client.post("/api/v1/brands", payload, format="json", HTTP_IDEMPOTENCY_KEY="race-1").status_code

    statuses = run_together(post, post, post)

    assert Brand.objects.filter(slug="race").count() == 1
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
