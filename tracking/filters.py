import django_filters

from .choices import MISS_REASON_CHOICES, HintReason
from .models import Click, Customer, TrackingLink


class TrackingLinkFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")

    class Meta:
        model = TrackingLink
        fields = {"affiliate": ["exact"], "is_active": ["exact"], "token": ["exact"], "created_at": ["gte", "lt"]}


class CustomerFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    click_id = django_filters.CharFilter(field_name="click__click_id")
    has_conflicts = django_filters.BooleanFilter(method="filter_conflicts", label="Has attribution conflicts")
    unattributed_with_hints = django_filters.BooleanFilter(
        method="filter_unattributed_with_hints", label="Credited to nobody although it carried attribution hints"
    )
    miss_reason = django_filters.ChoiceFilter(
        choices=MISS_REASON_CHOICES,
        method="filter_miss_reason",
        label="Unattributed, with a hint that failed for this reason",
    )

    class Meta:
        model = Customer
        fields = {
            "external_id": ["exact"], "affiliate": ["exact", "isnull"], "attribution_method": ["exact"],
            "country": ["exact"], "sub1": ["exact"], "sub2": ["exact"], "sub3": ["exact"], "sub4": ["exact"],
            "sub5": ["exact"], "registered_at": ["gte", "lt"], "created_at": ["gte", "lt"],
        }  # fmt: skip

    def filter_conflicts(self, queryset, name, value):
        return queryset.filter(attribution_conflicts__isnull=not value).distinct()

    def filter_unattributed_with_hints(self, queryset, name, value):
        from .selectors import customers_unattributed_with_hints

        matching = customers_unattributed_with_hints(Customer.objects.all()).values("pk")
        return queryset.filter(pk__in=matching) if value else queryset.exclude(pk__in=matching)

    def filter_miss_reason(self, queryset, name, value):
        from .selectors import customers_unattributed_with_hints

        return customers_unattributed_with_hints(queryset, reason=HintReason(value))


class ClickFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")

    class Meta:
        model = Click
        fields = {
            "affiliate": ["exact"], "link": ["exact"], "flag": ["exact"], "is_billable": ["exact"],
            "country": ["exact"], "sub1": ["exact"], "created_at": ["gte", "lt"],
        }  # fmt: skip
