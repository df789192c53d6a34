import django_filters

from .models import CommissionEntry


class CommissionEntryFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")

    class Meta:
        model = CommissionEntry
        fields = {
            "affiliate": ["exact"], "customer": ["exact"], "status": ["exact", "in"], "kind": ["exact", "in"],
            "period": ["exact"], "currency": ["exact"], "created_at": ["gte", "lt"],
        }  # fmt: skip
