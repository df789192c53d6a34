"""The demo feeds every sample dialect through the real endpoints; a second run changes nothing."""

import pytest

from affiliates import demo as programme
from integrations import demo
from integrations.models import InboundEvent, Source
from tracking.models import ConversionEvent

pytestmark = pytest.mark.django_db


def test_demo_sources_receive_the_samples_and_a_second_run_adds_nothing():
    ctx = programme.seed()
    lines = demo.seed(ctx)
    assert {s.slug for s in Source.objects.all()} >= {"lucky-casino-platform", "atlas-mt5", "atlas-crm", "summit-shop"}
    assert any(line.startswith("source atlas-mt5 (mt5_deals): 6 accepted") for line in lines), lines
    assert ConversionEvent.objects.filter(source__slug="summit-shop").count() == 6
    assert ConversionEvent.objects.get(source__slug="atlas-mt5", external_id="880001").type == "ftd"  # derived
    assert ConversionEvent.objects.get(source__slug="summit-shop", external_id="evt_01").customer.affiliate_id
    stored = InboundEvent.objects.count()
    assert demo.seed(ctx) == []
    assert InboundEvent.objects.count() == stored
