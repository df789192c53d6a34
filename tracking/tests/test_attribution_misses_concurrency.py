"""Misses and re-runs under concurrency (PostgreSQL): one miss per hint, one re-run applied per customer."""

import datetime as dt
import threading

import pytest
from django.db import connection

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from tracking.attribution import customer_resolve
from tracking.models import AttributionMiss, ConversionEvent, Customer, CustomerReassignment
from tracking.reattribution import customers_reattribute
from tracking.tests.factories import ConversionEventFactory, PromoCodeFactory

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def race(target, n=2):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=5)
            results.append(target())
        except Exception as exc:  # surfaced by the assertions of the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_events_with_the_same_failed_hint_record_one_miss():
    brand = BrandFactory(slug="race-miss")

    _, errors = race(
        lambda: customer_resolve(brand=brand, external_id="R-1", hints={"promo_code": "NOPE"}, occurred_at=NOW)
    )

    assert errors == []
    assert AttributionMiss.objects.filter(customer__external_id="R-1").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reruns_of_one_customer_apply_once():
    brand = BrandFactory(slug="race-rerun")
    customer = customer_resolve(brand=brand, external_id="R-2", hints={"promo_code": "LATE"}, occurred_at=NOW)
    ConversionEventFactory(customer=customer, affiliate=None, type="registration", hints={"promo_code": "LATE"},
                           amount=None, currency="", amount_base=None, occurred_at=NOW)  # fmt: skip
    promo = PromoCodeFactory(brand=brand, affiliate=AffiliateFactory(), code="LATE")

    results, errors = race(lambda: customers_reattribute(customers=[customer.pk], reason="promo created")[0].action)

    assert errors == []
    assert sorted(results) == ["attribute", "skipped"]
    assert CustomerReassignment.objects.filter(customer=customer).count() == 1
    assert Customer.objects.get(pk=customer.pk).affiliate_id == promo.affiliate_id
    assert set(ConversionEvent.objects.filter(customer=customer).values_list("affiliate_id", flat=True)) == {
        promo.affiliate_id
    }
