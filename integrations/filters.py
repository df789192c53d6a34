import django_filters
from django.db.models import Q

from core.serializers import MAX_ID
from tracking.choices import EventStatus, EventType
from tracking.models import ConversionEvent

from .models import FxRate, InboundEvent, InboundStatus, Source


class SourceFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")

    class Meta:
        model = Source
        fields = ["brand", "kind", "preset", "is_active", "test_mode"]


class EventFilter(django_filters.FilterSet):
    customer = django_filters.CharFilter(
        method="filter_customer", help_text="The operator's customer id (or the platform's customer id)."
    )
    type = django_filters.ChoiceFilter(choices=EventType.choices)
    status = django_filters.ChoiceFilter(choices=EventStatus.choices)
    source = django_filters.CharFilter(field_name="source__slug")
    brand = django_filters.CharFilter(field_name="brand__slug")
    event_id = django_filters.CharFilter(field_name="external_id")
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = ConversionEvent
        fields = ["customer", "type", "status", "source", "brand", "affiliate", "is_test", "event_id"]

    def filter_customer(self, queryset, name, value):
        condition = Q(customer__external_id=value)
        if value.isdigit() and int(value) <= MAX_ID:
            condition |= Q(customer_id=int(value))
        return queryset.filter(condition)


class InboundEventFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__slug")
    status = django_filters.ChoiceFilter(choices=InboundStatus.choices)
    received_after = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = InboundEvent
        fields = ["source", "status", "reason_code", "channel", "external_id", "batch_id"]


class FxRateFilter(django_filters.FilterSet):
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = FxRate
        fields = ["currency", "date"]
