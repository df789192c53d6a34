"""The `webhook-endpoints`, `webhook-deliveries` and `partner-postbacks` management API."""

import pytest
from standardwebhooks import Webhook

from affiliates.tests.factories import AffiliateFactory
from integrations.webhooks.choices import DeliveryStatus
from integrations.webhooks.models import Delivery, PartnerPostback, WebhookEndpoint

from .factories import OutboxEventFactory, PartnerPostbackFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db
BASE = "/api/v1/webhook-endpoints"


def test_create_answers_the_secret_once_and_never_again(mgmt, private_targets):
    response = mgmt.post(BASE, {"url": "https://crm.example.com/hooks", "event_types": ["affiliate.created"]})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] == WebhookEndpoint.objects.get().secret
    assert body["enabled"] is True
    listed = mgmt.get(BASE).json()["results"][0]
    read = mgmt.get(f"{BASE}/{body['id']}").json()
    assert "secret" not in listed and "secret" not in read
    assert read["secret_prefix"] == body["secret"][:10] + "…"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "http://169.254.169.254/latest", "event_types": ["*"]}, "url"),
        ({"url": "http://127.0.0.1:8000/hook", "event_types": ["*"]}, "url"),
        ({"url": "ftp://crm.example.com/", "event_types": ["*"]}, "url"),
        ({"url": "https://crm.example.com/", "event_types": ["no.such.event"]}, "event_types"),
        ({"url": "https://crm.example.com/", "event_types": []}, "event_types"),
        ({"url": "https://crm.example.com/", "event_types": ["*"], "secret": "whsec_x"}, "secret"),
    ],
)
def test_bad_endpoints_are_refused_with_a_problem(mgmt, settings, payload, field):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    response = mgmt.post(BASE, payload)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not WebhookEndpoint.objects.exists()


def test_update_and_delete(mgmt):
    endpoint = WebhookEndpointFactory()

    response = mgmt.patch(f"{BASE}/{endpoint.pk}", {"event_types": ["commission.approved", "payout.paid"]})
    assert response.status_code == 200
    assert response.json()["event_types"] == ["commission.approved", "payout.paid"]
    response = mgmt.patch(f"{BASE}/{endpoint.pk}", {"url": "http://10.0.0.1/"})
    assert response.status_code == 400

    assert mgmt.delete(f"{BASE}/{endpoint.pk}").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_enabling_a_disabled_endpoint_clears_its_failure_record(mgmt):
    from django.utils import timezone

    endpoint = WebhookEndpointFactory(enabled=False, failing_since=timezone.now(), disabled_reason="410")

    body = mgmt.patch(f"{BASE}/{endpoint.pk}", {"enabled": True}).json()

    assert (body["enabled"], body["failing_since"], body["disabled_reason"]) == (True, None, "")


def test_rotate_answers_the_new_secret_and_both_sign_during_the_grace_period(mgmt, receiver, run_on_commit):
    endpoint = WebhookEndpointFactory(url=receiver.url())
    old = endpoint.secret

    response = mgmt.post(f"{BASE}/{endpoint.pk}/rotate", {"grace_hours": 2})
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new != old and new.startswith("whsec_")
    assert run_on_commit(mgmt.post, f"{BASE}/{endpoint.pk}/test").status_code == 202

    request = receiver.requests[0]
    assert Webhook(new).verify(request.body, request.headers)["type"] == "webhook.test"
    assert Webhook(old).verify(request.body, request.headers)["type"] == "webhook.test"


def test_test_event_is_delivered_and_listed_with_its_attempts(mgmt, receiver, run_on_commit):
    endpoint = WebhookEndpointFactory(url=receiver.url(), event_types=["payout.paid"])

    response = run_on_commit(mgmt.post, f"{BASE}/{endpoint.pk}/test")

    assert response.status_code == 202
    assert len(receiver.requests) == 1
    listed = mgmt.get(f"{BASE}/{endpoint.pk}/deliveries").json()["results"]
    assert [(d["event_type"], d["status"], d["attempts"]) for d in listed] == [("webhook.test", "succeeded", 1)]
    detail = mgmt.get(f"/api/v1/webhook-deliveries/{listed[0]['id']}").json()
    attempt = detail["attempt_log"][0]
    assert (attempt["number"], attempt["response_status"], attempt["response_body"]) == (1, 200, "ok")
    assert attempt["request_headers"]["webhook-id"] == detail["message_id"]
    assert detail["payload"]["type"] == "webhook.test"


def test_deliveries_filter_by_status(mgmt):
    endpoint = WebhookEndpointFactory()
    Delivery.objects.create(event=OutboxEventFactory(), endpoint=endpoint, status=DeliveryStatus.FAILED)
    Delivery.objects.create(event=OutboxEventFactory(), endpoint=endpoint, status=DeliveryStatus.SUCCEEDED)

    failed = mgmt.get(f"{BASE}/{endpoint.pk}/deliveries?status=failed").json()["results"]
    everything = mgmt.get("/api/v1/webhook-deliveries?endpoint=" + str(endpoint.pk)).json()["results"]

    assert [d["status"] for d in failed] == ["failed"]
    assert len(everything) == 2


def test_redeliver_one_and_many_under_the_same_webhook_id(mgmt, receiver, run_on_commit):
    endpoint = WebhookEndpointFactory(url=receiver.url())
    first = Delivery.objects.create(event=OutboxEventFactory(), endpoint=endpoint, status=DeliveryStatus.FAILED)
    second = Delivery.objects.create(event=OutboxEventFactory(), endpoint=endpoint, status=DeliveryStatus.SUCCEEDED)

    one = run_on_commit(mgmt.post, f"/api/v1/webhook-deliveries/{first.pk}/redeliver")
    many = run_on_commit(mgmt.post, "/api/v1/webhook-deliveries/redeliver", {"ids": [first.pk, second.pk]})

    assert one.status_code == many.status_code == 202
    assert many.json() == {"redelivered": 2}
    assert sorted(r.headers["webhook-id"] for r in receiver.requests) == sorted(
        [first.message_id, first.message_id, second.message_id]
    )
    first.refresh_from_db()
    assert (first.status, first.attempts) == (DeliveryStatus.SUCCEEDED, 2)


def test_partner_keys_cannot_reach_the_management_webhook_api(api):
    partner = api("partner", affiliate=AffiliateFactory())

    assert partner.get(BASE).status_code == 403
    assert partner.get("/api/v1/webhook-deliveries").status_code == 403


def test_manager_sets_a_partner_postback_through_the_api(mgmt):
    affiliate = AffiliateFactory()
    template = "https://tracker.example.com/pb?cid={click_id}&payout={payout}"

    created = mgmt.post(
        "/api/v1/partner-postbacks",
        {"affiliate": affiliate.pk, "event": "qualified_cpa", "url_template": template, "raw_customer_ids": True},
    )
    assert created.status_code == 201, created.content
    changed = mgmt.patch(f"/api/v1/partner-postbacks/{created.json()['id']}", {"enabled": False})
    refused = mgmt.patch(f"/api/v1/partner-postbacks/{created.json()['id']}", {"event": "ftd"})

    assert changed.json()["enabled"] is False
    assert refused.status_code == 400
    postback = PartnerPostback.objects.get()
    assert (postback.event, postback.raw_customer_ids, postback.url_template) == ("qualified_cpa", True, template)


def test_partner_api_lets_a_partner_manage_only_their_own_postbacks(api):
    from django.test import override_settings
    from django.urls import include, path

    mine, other = AffiliateFactory(), AffiliateFactory()
    PartnerPostbackFactory(affiliate=other, event="ftd")
    partner = api("partner", affiliate=mine)
    urls = type("urls", (), {"urlpatterns": [path("p/", include("integrations.webhooks.api.partner_urls"))]})

    with override_settings(ROOT_URLCONF=urls):
        created = partner.post(
            "/p/postbacks", {"event": "ftd", "url_template": "https://t.example.com/?c={click_id}"}, format="json"
        )
        raw = partner.post(
            "/p/postbacks",
            {"event": "registration", "url_template": "https://t.example.com/", "raw_customer_ids": True},
            format="json",
        )
        listed = partner.get("/p/postbacks").json()["results"]

    assert created.status_code == 201, created.content
    assert raw.status_code == 400
    assert [p["event"] for p in listed] == ["ftd"]
    assert PartnerPostback.objects.get(affiliate=mine).raw_customer_ids is False
