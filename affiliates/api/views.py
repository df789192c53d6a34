from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.idempotency import IdempotentPostMixin

from .. import services
from ..filters import AffiliateFilter, BrandFilter, DealAssignmentFilter, DealFilter
from ..models import Affiliate, Brand, Deal, DealAssignment
from ..selectors import deal_versions
from .serializers import (
    AffiliateSerializer,
    BrandSerializer,
    DealAssignmentSerializer,
    DealSerializer,
    DealUpdateMetaSerializer,
    DealUpdateSerializer,
    DealVersionSerializer,
    DealWriteSerializer,
    StatusChangeInputSerializer,
)

NO_DELETE = ["get", "post", "put", "patch", "head", "options"]
_META_FIELDS = ("brand", "effective_from", "change_note")


def _terms_only(data) -> dict:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
    return {k: v for k, v in data.items() if k not in _META_FIELDS}


class BrandViewSet(IdempotentPostMixin, viewsets.ModelViewSet):
    queryset = Brand.objects.all()
    serializer_class = BrandSerializer
    filterset_class = BrandFilter
    http_method_names = NO_DELETE


class AffiliateViewSet(IdempotentPostMixin, viewsets.ModelViewSet):
    queryset = Affiliate.objects.all()
    serializer_class = AffiliateSerializer
    filterset_class = AffiliateFilter
    http_method_names = NO_DELETE

    def perform_create(self, serializer):
        serializer.instance = services.affiliate_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.affiliate_update(affiliate=serializer.instance, **serializer.validated_data)

    def _status_change(self, request, service):
        data = StatusChangeInputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        affiliate = service(affiliate=self.get_object(), reason=data.validated_data["reason"])
        return Response(AffiliateSerializer(affiliate).data)

    @extend_schema(request=StatusChangeInputSerializer, responses=AffiliateSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Make a pending, suspended or rejected affiliate active."""
        return self._status_change(request, services.affiliate_approve)

    @extend_schema(request=StatusChangeInputSerializer, responses=AffiliateSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        """Suspend an active affiliate (a reason is required). Its links keep redirecting, unbilled."""
        return self._status_change(request, services.affiliate_suspend)

    @extend_schema(request=StatusChangeInputSerializer, responses=AffiliateSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject a pending or suspended affiliate (a reason is required)."""
        return self._status_change(request, services.affiliate_reject)


class DealViewSet(IdempotentPostMixin, viewsets.ModelViewSet):
    queryset = Deal.objects.select_related("brand").prefetch_related("versions")
    filterset_class = DealFilter
    http_method_names = NO_DELETE

    def get_serializer_class(self):
        return DealSerializer if self.request.method in ("GET", "HEAD") else DealWriteSerializer

    @extend_schema(request=DealWriteSerializer, responses={201: DealSerializer})
    def create(self, request, *args, **kwargs):
        data = DealWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deal = services.deal_create(
            brand=data.validated_data["brand"],
            terms=_terms_only(request.data),
            effective_from=data.validated_data.get("effective_from"),
            note=data.validated_data["change_note"],
        )
        return Response(DealSerializer(deal).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DealUpdateSerializer, responses=DealSerializer)
    def update(self, request, *args, **kwargs):
        """Change some or all terms: a new version, in force from `effective_from` (default today)."""
        deal = self.get_object()
        meta = DealUpdateMetaSerializer(data=request.data if isinstance(request.data, dict) else {})
        meta.is_valid(raise_exception=True)
        if "brand" in request.data and request.data["brand"] != deal.brand.slug:
            raise ValidationError({"brand": "A deal's brand cannot change."})
        services.deal_update(
            deal=deal,
            terms=_terms_only(request.data),
            effective_from=meta.validated_data.get("effective_from"),
            note=meta.validated_data["change_note"],
        )
        deal.refresh_from_db()
        return Response(DealSerializer(deal).data)

    @extend_schema(request=None, responses=DealSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the deal to new assignments; assignments already made stay in force."""
        return Response(DealSerializer(services.deal_set_active(deal=self.get_object(), active=False)).data)

    @extend_schema(request=None, responses=DealSerializer)
    @action(detail=True, methods=["post"])
    def open(self, request, pk=None):
        """Open the deal for new assignments again."""
        return Response(DealSerializer(services.deal_set_active(deal=self.get_object(), active=True)).data)

    @extend_schema(responses=DealVersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        """Every version of the deal's terms, newest first."""
        deal = self.get_object()
        page = self.paginate_queryset(deal_versions(deal_id=deal.pk))
        return self.get_paginated_response(DealVersionSerializer(page, many=True).data)


class DealAssignmentViewSet(
    IdempotentPostMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = DealAssignment.objects.select_related("deal", "brand", "affiliate")
    serializer_class = DealAssignmentSerializer
    filterset_class = DealAssignmentFilter

    def perform_create(self, serializer):
        # a brand default names no affiliate: the serializer leaves the field out when the body does
        serializer.instance = services.deal_assignment_create(**{"affiliate": None, **serializer.validated_data})

    def perform_destroy(self, instance):
        services.deal_assignment_delete(assignment=instance)
