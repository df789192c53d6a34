"""The partner API (partner key): the key's own affiliate's deals, ledger, links and statistics only.

Every view filters by `request.auth.affiliate_id`; another affiliate's rows answer 404, never 403, so
ids reveal nothing. Payout statements are in portal/api/payouts.py.
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from affiliates.models import Affiliate, DealAssignment
from commissions.models import CommissionEntry
from core.idempotency import IdempotentPostMixin
from integrations.webhooks.api.views import PartnerOwnPostbackViewSet
from integrations.webhooks.models import PartnerPostback
from tracking.models import TrackingLink
from tracking.services import tracking_link_create

from .. import selectors
from .serializers import (
    BalanceSerializer,
    CommissionQuerySerializer,
    PartnerCommissionSerializer,
    PartnerDealAssignmentSerializer,
    PartnerTrackingLinkCreateSerializer,
    PartnerTrackingLinkSerializer,
    StatsQuerySerializer,
    StatsSerializer,
)


class PartnerViewMixin:
    required_scope = "partner"
    lookup_value_regex = r"\d+"

    @property
    def affiliate_id(self) -> int:
        return self.request.auth.affiliate_id

    def _schema_only(self) -> bool:
        return getattr(self, "swagger_fake_view", False)


class PartnerDealViewSet(PartnerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your deal assignments (your own and the brand defaults that apply to you), each with every version
    of its terms and your overrides: which terms applied when."""

    serializer_class = PartnerDealAssignmentSerializer

    def get_queryset(self):
        if self._schema_only():
            return DealAssignment.objects.none()
        return selectors.partner_deal_assignments(affiliate_id=self.affiliate_id)


@extend_schema_view(list=extend_schema(parameters=[CommissionQuerySerializer]))
class PartnerCommissionViewSet(
    PartnerViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Your commission ledger (`?status=&kind=&from=&to=`; from/to by the time of the activity)."""

    serializer_class = PartnerCommissionSerializer

    def get_queryset(self):
        if self._schema_only():
            return CommissionEntry.objects.none()
        if self.action != "list":
            return selectors.partner_commissions(affiliate_id=self.affiliate_id)
        query = CommissionQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        return selectors.partner_commissions(
            affiliate_id=self.affiliate_id,
            status=q.get("status"),
            kind=q.get("kind"),
            start=q.get("from"),
            end=q.get("to"),
        )

    @extend_schema(responses=BalanceSerializer)
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def balance(self, request):
        """Per currency: your balance and the sum of your entries in each status, to the cent."""
        rows = selectors.partner_balance(affiliate_id=self.affiliate_id)
        return Response(BalanceSerializer({"results": rows}).data)


class PartnerTrackingLinkViewSet(
    PartnerViewMixin,
    IdempotentPostMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Your tracking links; create one for a brand and landing page, and place its `url`."""

    serializer_class = PartnerTrackingLinkSerializer

    def get_queryset(self):
        if self._schema_only():
            return TrackingLink.objects.none()
        return selectors.partner_tracking_links(affiliate_id=self.affiliate_id)

    @extend_schema(request=PartnerTrackingLinkCreateSerializer, responses={201: PartnerTrackingLinkSerializer})
    def create(self, request, *args, **kwargs):
        data = PartnerTrackingLinkCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = tracking_link_create(
            affiliate=Affiliate.objects.get(pk=self.affiliate_id), **data.validated_data, created_by=None
        )
        return Response(PartnerTrackingLinkSerializer(link).data, status=status.HTTP_201_CREATED)


class PartnerStatsView(PartnerViewMixin, GenericAPIView):
    """Your clicks (billable), registrations, FTDs, deposits, revenue and commission per day (UTC), brand,
    country or sub id (`?from=&to=&group_by=`; default: the last 30 days by day; at most 366 days)."""

    serializer_class = StatsSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(parameters=[StatsQuerySerializer], responses=StatsSerializer)
    def get(self, request):
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        rows = selectors.partner_stats(
            affiliate_id=self.affiliate_id, start=q["from"], end=q["to"], group_by=q["group_by"]
        )
        body = {"from": q["from"], "to": q["to"], "group_by": q["group_by"], "currency": settings.BASE_CURRENCY}
        body["results"] = rows
        return Response(StatsSerializer(body).data)


class PartnerPostbackViewSet(PartnerOwnPostbackViewSet):
    """Your postback templates (one per event type), fired to your tracker like webhooks."""

    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PartnerPostback.objects.none()
        return super().get_queryset()
