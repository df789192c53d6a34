import pytest

from integrations.webhooks import demo
from integrations.webhooks.models import PartnerPostback, WebhookEndpoint


@pytest.mark.django_db
def test_demo_seeds_switched_off_targets_once():
    from affiliates.tests.factories import AffiliateFactory

    ctx = {"affiliates": {"acme": AffiliateFactory()}}

    demo.seed(ctx)
    lines = demo.seed(ctx)

    assert WebhookEndpoint.objects.get().enabled is False
    assert PartnerPostback.objects.count() == 3
    assert not PartnerPostback.objects.filter(enabled=True).exists()
    assert "1 webhook endpoints" in lines[0]
