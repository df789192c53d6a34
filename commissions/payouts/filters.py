import django_filters

from .models import PayoutStatement


class PayoutStatementFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")

    class Meta:
        model = PayoutStatement
        fields = {
            "affiliate": ["exact"], "status": ["exact", "in"], "period": ["exact"], "currency": ["exact"],
            "period_start": ["gte", "lt"],
        }  # fmt: skip
