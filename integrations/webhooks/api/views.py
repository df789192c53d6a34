from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from affiliates.models import Affiliate
from core.idempotency import IdempotentPostMixin

from .. import services
from ..filters import DeliveryFilter, PartnerPostbackFilter, WebhookEndpointFilter
from ..models import Delivery, PartnerPostback, WebhookEndpoint
from .serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    PartnerOwnPostbackSerializer,
    PartnerPostbackSerializer,
    RedeliveredSerializer,
    RedeliverInputSerializer,
    RotatedSerializer,
    RotateInputSerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
)


class WebhookEndpointViewSet(IdempotentPostMixin, viewsets.ModelViewSet):
    """Operator systems that receive signed webhooks. The signing secret is answered once, on create
    (and on rotate)."""

    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilter

    @extend_schema(responses={201: WebhookEndpointCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(**serializer.validated_data)
        body = WebhookEndpointCreatedSerializer(endpoint).data
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = services.endpoint_update(endpoint=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.endpoint_delete(endpoint=instance)

    @extend_schema(request=RotateInputSerializer, responses=RotatedSerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        """Give the endpoint a new secret; the old one keeps signing for `grace_hours` (default: setting)."""
        data = RotateInputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        endpoint = self.get_object()
        secret = services.endpoint_rotate_secret(endpoint=endpoint, grace_hours=data.validated_data.get("grace_hours"))
        endpoint.refresh_from_db()
        return Response({"secret": secret, "previous_secret_expires_at": endpoint.previous_secret_expires_at})

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a `webhook.test` event to this endpoint; follow it in its deliveries."""
        delivery = services.endpoint_send_test(endpoint=self.get_object())
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses=DeliverySerializer(many=True),
        parameters=[OpenApiParameter("status", str), OpenApiParameter("event_type", str)],
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """This endpoint's deliveries, newest first (`?status=`, `?event_type=`)."""
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        queryset = Delivery.objects.filter(endpoint=endpoint).select_related("event")
        queryset = DeliveryFilter(request.query_params, queryset=queryset).qs
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class DeliveryViewSet(IdempotentPostMixin, viewsets.ReadOnlyModelViewSet):
    """Every delivery of a webhook or partner postback, with its attempts; redeliver one or many."""

    queryset = Delivery.objects.select_related("event")
    filterset_class = DeliveryFilter

    def get_serializer_class(self):
        return DeliveryDetailSerializer if self.action == "retrieve" else DeliverySerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("attempt_log")
        return queryset

    @extend_schema(request=None, responses={202: RedeliveredSerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        """Send this delivery again now, under the same webhook-id."""
        count = services.delivery_redeliver(deliveries=[self.get_object()])
        return Response({"redelivered": count}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=RedeliverInputSerializer,
        responses={202: RedeliveredSerializer},
        operation_id="v1_webhook_deliveries_redeliver_many",
    )
    @action(detail=False, methods=["post"], url_path="redeliver")
    def redeliver_many(self, request):
        """Send these deliveries (`{"ids": [...]}`) again now."""
        data = RedeliverInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deliveries = list(Delivery.objects.filter(pk__in=data.validated_data["ids"]))
        count = services.delivery_redeliver(deliveries=deliveries)
        return Response({"redelivered": count}, status=status.HTTP_202_ACCEPTED)


class PartnerPostbackViewSet(IdempotentPostMixin, viewsets.ModelViewSet):
    """Partners' postback templates, as a manager sets them."""

    queryset = PartnerPostback.objects.select_related("affiliate")
    serializer_class = PartnerPostbackSerializer
    filterset_class = PartnerPostbackFilter

    def perform_create(self, serializer):
        serializer.instance = services.postback_save(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = _postback_update(serializer.instance, serializer.validated_data)


class PartnerOwnPostbackViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A partner's own postback templates (partner key): one per event type."""

    required_scope = "partner"
    serializer_class = PartnerOwnPostbackSerializer

    def get_queryset(self):
        return PartnerPostback.objects.filter(affiliate_id=self.request.auth.affiliate_id)

    def perform_create(self, serializer):
        affiliate = Affiliate.objects.get(pk=self.request.auth.affiliate_id)
        serializer.instance = services.postback_save(affiliate=affiliate, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = _postback_update(serializer.instance, serializer.validated_data)


def _postback_update(postback: PartnerPostback, changes: dict) -> PartnerPostback:
    for name in ("affiliate", "event"):
        if name in changes and changes[name] != getattr(postback, name):
            raise ValidationError({name: "Cannot be changed; delete this postback and create another."})
    return services.postback_save(
        affiliate=postback.affiliate,
        event=postback.event,
        url_template=changes.get("url_template", postback.url_template),
        enabled=changes.get("enabled", postback.enabled),
        raw_customer_ids=changes.get("raw_customer_ids"),
    )
