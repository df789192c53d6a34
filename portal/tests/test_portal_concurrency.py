"""Confirming the same payment-details link twice at once applies it once (PostgreSQL row lock)."""

import threading

import pytest
from django.db import connection

from integrations.webhooks.models import OutboxEvent
from portal import services

from .conftest import make_partner

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_simultaneous_confirmations_of_one_link_apply_it_once():
    user, affiliate = make_partner("dora")
    token = services.payment_change_request(
        affiliate=affiliate, user=user, payment_method="paypal", payment_details={"email": "dora@pay.example"}
    )
    results: list[str] = []
    barrier = threading.Barrier(2)

    def confirm():
        try:
            barrier.wait(timeout=10)
            services.payment_change_confirm(token=token, affiliate=affiliate, user=user)
            results.append("applied")
        except services.PortalError as exc:
            results.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [
        "The payment details changed since this link was sent; it can no longer be used.",
        "applied",
    ]
    affiliate.refresh_from_db()
    assert (affiliate.payment_method, affiliate.payment_details) == ("paypal", {"email": "dora@pay.example"})
    assert OutboxEvent.objects.filter(type="affiliate.payment_details_changed", affiliate_id=affiliate.pk).count() == 1
