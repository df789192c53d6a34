"""The admin: endpoints (secret shown once), postbacks set by managers, the delivery log and redelivery."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from affiliates.tests.factories import AffiliateFactory
from integrations.webhooks.choices import DeliveryStatus
from integrations.webhooks.models import Delivery, DeliveryAttempt, PartnerPostback, WebhookEndpoint

from .factories import OutboxEventFactory, PartnerPostbackFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client, django_user_model):
    user = django_user_model.objects.create_superuser(username="boss", email="boss@example.com", password="x")
    client.force_login(user)
    return client


def failed_delivery(endpoint):
    delivery = Delivery.objects.create(
        event=OutboxEventFactory(), endpoint=endpoint, status=DeliveryStatus.FAILED, attempts=1, last_status_code=500
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, number=1, at=delivery.created_at, request_method="POST", request_url=endpoint.url,
        response_status=500, response_body="upstream down", latency_ms=12,
    )  # fmt: skip
    return delivery


def test_every_webhooks_admin_page_renders(manager):
    endpoint = WebhookEndpointFactory()
    delivery = failed_delivery(endpoint)
    PartnerPostbackFactory()

    for name in ("webhookendpoint", "delivery", "partnerpostback", "deliverynotice", "outboxevent"):
        assert manager.get(reverse(f"admin:webhooks_{name}_changelist")).status_code == 200
    assert manager.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])).status_code == 200
    page = manager.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assert b"upstream down" in page.content


def test_adding_an_endpoint_shows_its_secret_once(manager, private_targets):
    response = manager.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {"url": "https://crm.example.com/hooks", "description": "CRM", "event_types": ["affiliate.created"],
         "enabled": "on"},
    )  # fmt: skip

    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert any(endpoint.secret in str(m) for m in get_messages(response.wsgi_request))


def test_an_unsafe_endpoint_url_is_a_form_error(manager, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    response = manager.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {"url": "http://169.254.169.254/", "event_types": ["*"], "enabled": "on"},
    )

    assert response.status_code == 200
    assert b"not allowed" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_manager_sets_a_partners_postback_with_raw_customer_ids(manager):
    affiliate = AffiliateFactory()

    response = manager.post(
        reverse("admin:webhooks_partnerpostback_add"),
        {"affiliate": affiliate.pk, "event": "ftd", "url_template": "https://t.example.com/?c={click_id}",
         "enabled": "on", "raw_customer_ids": "on"},
    )  # fmt: skip

    assert response.status_code == 302
    postback = PartnerPostback.objects.get()
    assert (postback.event, postback.raw_customer_ids) == ("ftd", True)


def test_bulk_and_single_redeliver_send_again(manager, receiver, django_capture_on_commit_callbacks):
    endpoint = WebhookEndpointFactory(url=receiver.url())
    first, second = failed_delivery(endpoint), failed_delivery(endpoint)

    with django_capture_on_commit_callbacks(execute=True):
        manager.post(
            reverse("admin:webhooks_delivery_changelist"),
            {"action": "redeliver_selected", "_selected_action": [first.pk, second.pk]},
        )
    with django_capture_on_commit_callbacks(execute=True):
        manager.get(reverse("admin:webhooks_delivery_redeliver_detail", args=[first.pk]))

    assert sorted(r.headers["webhook-id"] for r in receiver.requests) == sorted(
        [first.message_id, first.message_id, second.message_id]
    )
    first.refresh_from_db()
    assert (first.status, first.attempts) == (DeliveryStatus.SUCCEEDED, 3)
