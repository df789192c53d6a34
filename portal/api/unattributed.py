"""Partner API: your own clicks, links and promo codes that led to a customer credited to nobody, and why.

A dispute starts from facts: each row is one of your hints (a click id of your link, your tracking token or
promo code) that an operator's event carried for a customer who ended up attributed to nobody, with the
stable reason code and the sentence the platform recorded. Only hints that name you are ever listed; a
customer who was attributed (to you or anyone) leaves the list.
"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from tracking.choices import MISS_REASON_CHOICES, HintKind, HintReason
from tracking.models import AttributionMiss
from tracking.selectors import partner_unattributed

from .serializers import RangeQuerySerializer
from .views import PartnerViewMixin


class UnattributedQuerySerializer(RangeQuerySerializer):
    reason = serializers.ChoiceField(choices=MISS_REASON_CHOICES, required=False)


class PartnerClickSerializer(serializers.Serializer):
    click_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    tracking_link = serializers.CharField(source="link.token", allow_null=True, default=None)
    sub1 = serializers.CharField()
    sub2 = serializers.CharField()
    sub3 = serializers.CharField()
    sub4 = serializers.CharField()
    sub5 = serializers.CharField()
    country = serializers.CharField()


class PartnerUnattributedSerializer(serializers.ModelSerializer):
    brand = serializers.CharField(source="customer.brand.slug")
    customer = serializers.IntegerField(source="customer_id", help_text="The platform's id of the customer.")
    registered_at = serializers.DateTimeField(source="customer.registered_at", allow_null=True)
    hint = serializers.ChoiceField(choices=HintKind.choices)
    reason = serializers.ChoiceField(choices=HintReason.choices)
    occurred_at = serializers.DateTimeField(help_text="When the event that carried your hint happened.")
    click = PartnerClickSerializer(allow_null=True)

    class Meta:
        model = AttributionMiss
        fields = [
            "id", "brand", "customer", "registered_at", "hint", "value", "reason", "message", "delta_seconds",
            "occurred_at", "click", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        summary="Your hints that led to an unattributed customer", parameters=[UnattributedQuerySerializer]
    ),
    retrieve=extend_schema(summary="One of your hints that led to an unattributed customer"),
)
class PartnerUnattributedViewSet(
    PartnerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Your clicks, links and promo codes that an operator sent for a customer credited to nobody, each with
    the reason code and sentence (`?reason=&from=&to=`, by when the event happened)."""

    serializer_class = PartnerUnattributedSerializer

    def get_queryset(self):
        if self._schema_only():
            return AttributionMiss.objects.none()
        if self.action != "list":
            return partner_unattributed(affiliate_id=self.affiliate_id)
        query = UnattributedQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        return partner_unattributed(
            affiliate_id=self.affiliate_id, reason=q.get("reason", ""), since=q.get("from"), until=q.get("to")
        )
