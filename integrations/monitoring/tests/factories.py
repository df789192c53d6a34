import factory
from django.utils import timezone

from integrations.models import InboundEvent, InboundStatus
from integrations.monitoring.models import Alert, AlertKind, AlertRule, Severity
from integrations.tests.factories import SourceFactory


class InboundEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundEvent

    source = factory.SubFactory(SourceFactory)
    received_at = factory.LazyFunction(timezone.now)
    channel = "postback"
    method = "POST"
    payload = factory.LazyFunction(lambda: {"event_id": "x", "type": "deposit", "amount": "10.00"})
    status = InboundStatus.PROCESSED
    processed_at = factory.LazyAttribute(lambda e: e.received_at if e.status != InboundStatus.RECEIVED else None)


class AlertRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertRule

    source = factory.SubFactory(SourceFactory)


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    source = factory.SubFactory(SourceFactory)
    brand = factory.SelfAttribute("source.brand")
    kind = AlertKind.NO_EVENTS
    subject = ""
    key = factory.LazyAttribute(lambda a: f"{a.source.pk}:{a.kind}:{a.subject}")
    severity = Severity.CRITICAL
    title = factory.LazyAttribute(lambda a: f"{a.source.name}: no events")
    opened_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.SelfAttribute("opened_at")
