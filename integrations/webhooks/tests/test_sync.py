"""Bidirectional sync: affiliate and deal changes reach a subscribed CRM as signed webhooks."""

import datetime as dt
import json

import pytest
from standardwebhooks import Webhook

from affiliates import services
from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealFactory
from integrations.webhooks.models import OutboxEvent

from .factories import WebhookEndpointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm(receiver):
    endpoint = WebhookEndpointFactory(
        url=receiver.url(),
        event_types=[
            "affiliate.created", "affiliate.status_changed", "affiliate.payment_details_changed", "deal.changed",
            "deal.assigned",
        ],
    )  # fmt: skip

    def received() -> list[dict]:
        return [Webhook(endpoint.secret).verify(r.body, r.headers) for r in receiver.requests]

    return received


def test_affiliate_lifecycle_reaches_the_crm(crm, run_on_commit):
    affiliate = run_on_commit(services.affiliate_create, name="Acme", email="acme@example.com", status="pending")
    run_on_commit(services.affiliate_approve, affiliate=affiliate)
    run_on_commit(
        services.affiliate_update,
        affiliate=affiliate,
        payment_method="bank_transfer",
        payment_details={"iban": "DE89370400440532013000"},
    )
    run_on_commit(services.affiliate_update, affiliate=affiliate, notes="called on Monday")

    events = crm()
    assert [e["type"] for e in events] == [
        "affiliate.created", "affiliate.status_changed", "affiliate.payment_details_changed",
    ]  # fmt: skip
    assert events[0]["data"]["email"] == "acme@example.com"
    assert events[1]["data"] | {"changed_at": None} == {
        "id": affiliate.pk, "from_status": "pending", "to_status": "active", "reason": "", "changed_at": None,
    }  # fmt: skip
    assert events[2]["data"]["payment_details"] == {"iban": "DE89370400440532013000"}
    assert events[2]["data"]["payout_threshold"] == "100.00"


def test_deal_change_and_assignment_reach_the_crm(crm, run_on_commit):
    brand = BrandFactory(slug="lucky-casino")
    deal = DealFactory(brand=brand)
    affiliate = AffiliateFactory()

    run_on_commit(services.deal_update, deal=deal, terms={"cpa_amount": "250.00"}, effective_from=dt.date(2026, 1, 1))
    run_on_commit(services.deal_assignment_create, deal=deal, affiliate=affiliate, valid_from=dt.date(2026, 1, 1))

    changed, assigned = crm()
    assert changed["type"] == "deal.changed"
    assert (changed["data"]["version"], changed["data"]["terms"]["cpa_amount"]) == (2, "250.00")
    assert assigned["type"] == "deal.assigned"
    assert (assigned["data"]["affiliate"], assigned["data"]["valid_from"]) == (affiliate.pk, "2026-01-01")


def test_a_deal_update_that_changes_nothing_announces_nothing(crm, run_on_commit):
    deal = DealFactory()

    run_on_commit(services.deal_update, deal=deal, terms={})

    assert not OutboxEvent.objects.filter(type="deal.changed").exists()
    assert crm() == []


def test_a_refused_status_change_announces_nothing(crm, run_on_commit):
    from rest_framework.exceptions import ValidationError

    affiliate = AffiliateFactory(status="active")

    with pytest.raises(ValidationError):
        run_on_commit(services.affiliate_suspend, affiliate=affiliate, reason="")

    assert not OutboxEvent.objects.exists()
    assert json.dumps(crm()) == "[]"
