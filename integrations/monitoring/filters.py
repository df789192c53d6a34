import django_filters

from .models import Alert, AlertKind, ReconciliationRun, Severity


class AlertFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__slug")
    kind = django_filters.ChoiceFilter(choices=AlertKind.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    open = django_filters.BooleanFilter(field_name="resolved_at", lookup_expr="isnull", label="Only open alerts")
    opened_after = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")
    opened_before = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["source", "kind", "severity", "open"]


class ReconciliationFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__slug")

    class Meta:
        model = ReconciliationRun
        fields = ["source", "granularity"]
