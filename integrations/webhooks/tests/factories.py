import factory
from django.utils import timezone

from affiliates.tests.factories import AffiliateFactory
from integrations.webhooks.choices import PostbackEvent
from integrations.webhooks.models import OutboxEvent, PartnerPostback, WebhookEndpoint
from integrations.webhooks.signing import secret_generate


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    url = "https://hooks.example.com/affiliates"
    event_types = factory.LazyFunction(lambda: ["*"])
    secret = factory.LazyFunction(secret_generate)
    enabled = True


class PartnerPostbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerPostback

    affiliate = factory.SubFactory(AffiliateFactory)
    event = PostbackEvent.FTD
    url_template = "https://tracker.example.com/pb?cid={click_id}&e={event}"


class OutboxEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutboxEvent

    type = "affiliate.created"
    data = factory.LazyFunction(lambda: {"id": 1, "name": "Acme"})
    created_at = factory.LazyFunction(timezone.now)
