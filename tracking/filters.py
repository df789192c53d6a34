import django_filters

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

    class Meta:
        model = Customer
        fields = {
            "external_id": ["exact"], "affiliate": ["exact", "isnull"], "attribution_method": ["exact"],
            "country": ["exact"], "sub1": ["exact"], "sub2": ["exact"], "sub3": ["exact"], "sub4": ["exact"],
            "sub5": ["exact"], "registered_at": ["gte", "lt"], "created_at": ["gte", "lt"],
        }  # fmt: skip

    def filter_conflicts(self, queryset, name, value):
        return queryset.filter(attribution_conflicts__isnull=not value).distinct()


class ClickFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")

    class Meta:
        model = Click
        fields = {
            "affiliate": ["exact"], "link": ["exact"], "flag": ["exact"], "is_billable": ["exact"],
            "country": ["exact"], "sub1": ["exact"], "created_at": ["gte", "lt"],
        }  # fmt: skip
