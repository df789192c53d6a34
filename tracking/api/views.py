from rest_framework import mixins, viewsets

from core.idempotency import IdempotentPostMixin

from .. import selectors, services
from ..filters import CustomerFilter, TrackingLinkFilter
from .serializers import CustomerSerializer, TrackingLinkSerializer


class TrackingLinkViewSet(
    IdempotentPostMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Tracking links: create one for an affiliate and brand; the answer carries its `token` and ready `url`."""

    queryset = selectors.tracking_link_list()
    serializer_class = TrackingLinkSerializer
    filterset_class = TrackingLinkFilter

    def perform_create(self, serializer):
        serializer.instance = services.tracking_link_create(**serializer.validated_data)


class CustomerViewSet(viewsets.ReadOnlyModelViewSet):
    """Referred customers with their attribution, conflicting hints and reassignments."""

    queryset = selectors.customer_list()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
