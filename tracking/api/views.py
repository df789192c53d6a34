from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.idempotency import IdempotentPostMixin
from core.problems import Problem

from .. import reattribution, selectors, services
from ..filters import CustomerFilter, TrackingLinkFilter
from ..models import Customer
from .serializers import (
    CustomerSerializer,
    ReattributeInputSerializer,
    ReattributeOutputSerializer,
    TrackingLinkSerializer,
)


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


class CustomerViewSet(IdempotentPostMixin, viewsets.ReadOnlyModelViewSet):
    """Referred customers with their attribution, the outcome of each hint, conflicting hints and reassignments."""

    queryset = selectors.customer_list()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter

    @extend_schema(
        summary="Re-run attribution for unattributed customers (dry run by default)",
        request=ReattributeInputSerializer,
        responses=ReattributeOutputSerializer,
    )
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def reattribute(self, request):
        """Evaluate the hints of the customers' events again, after the cause of a miss was fixed. `dry_run`
        (the default) answers who would move to whom; `dry_run: false` applies it (audited, commissions then
        booked as the deal says). Attributed customers are skipped; customers with paid entries are refused."""
        data = ReattributeInputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values.get("customers"):
            ids = sorted(set(values["customers"]))
            known = set(Customer.objects.filter(pk__in=ids).values_list("pk", flat=True))
            unknown = [pk for pk in ids if pk not in known]
            if unknown:
                raise Problem(
                    status_code=400,
                    code="unknown_customers",
                    title="Unknown customers",
                    detail=f"No customer with id {', '.join(map(str, unknown[:20]))}.",
                    errors=[{"field": "customers", "message": f"Unknown customer id {pk}."} for pk in unknown[:20]],
                )
        else:
            brand = values.get("brand")
            ids = reattribution.customers_for_rerun(
                brand_id=brand.pk if brand else None, reason=values.get("miss_reason", "")
            )
        if not ids:
            plans = []
        else:
            try:
                if values["dry_run"]:
                    plans = reattribution.customers_reattribute_plan(customers=ids)
                else:
                    plans = reattribution.customers_reattribute(
                        customers=ids, reason=values["reason"], actor=f"API key {request.auth.name}"
                    )
            except ValidationError as exc:
                raise Problem(
                    status_code=400,
                    code="invalid_reattribution",
                    title="Invalid re-run",
                    detail="; ".join(exc.messages),
                ) from exc
        body = {"dry_run": values["dry_run"], "summary": reattribution.plans_summary(plans), "results": plans}
        return Response(ReattributeOutputSerializer(body).data)
