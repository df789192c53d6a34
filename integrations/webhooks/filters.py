import django_filters

from .models import Delivery, PartnerPostback, WebhookEndpoint


class WebhookEndpointFilter(django_filters.FilterSet):
    class Meta:
        model = WebhookEndpoint
        fields = {"enabled": ["exact"], "affiliate": ["exact", "isnull"]}


class DeliveryFilter(django_filters.FilterSet):
    event_type = django_filters.CharFilter(field_name="event__type")

    class Meta:
        model = Delivery
        fields = {
            "endpoint": ["exact"], "postback": ["exact"], "status": ["exact", "in"], "created_at": ["gte", "lt"],
            "message_id": ["exact"],
        }  # fmt: skip


class PartnerPostbackFilter(django_filters.FilterSet):
    class Meta:
        model = PartnerPostback
        fields = {"affiliate": ["exact"], "event": ["exact"], "enabled": ["exact"]}
