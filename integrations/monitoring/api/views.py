from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from core.idempotency import IdempotentPostMixin
from core.problems import Problem

from ..filters import AlertFilter, ReconciliationFilter
from ..models import Alert, ReconciliationRun
from ..reconciliation import ReconciliationError, reconciliation_create
from .serializers import AlertSerializer, ReconciliationCreateSerializer, ReconciliationSerializer


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Integration alerts, open and resolved (`?open=true` for the open ones)."""

    queryset = Alert.objects.select_related("source")
    serializer_class = AlertSerializer
    filterset_class = AlertFilter


class ReconciliationViewSet(
    IdempotentPostMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """An operator's own totals for a period, compared line by line with what the platform received."""

    queryset = ReconciliationRun.objects.select_related("source")
    serializer_class = ReconciliationSerializer
    filterset_class = ReconciliationFilter

    @extend_schema(request=ReconciliationCreateSerializer, responses={201: ReconciliationSerializer})
    def create(self, request, *args, **kwargs):
        data = ReconciliationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            run = reconciliation_create(
                source=v["source"],
                granularity=v["granularity"],
                period_start=v["period_start"],
                period_end=v["period_end"],
                content=v["csv"].encode(),
                filename=v["filename"],
            )
        except ReconciliationError as exc:
            raise Problem(
                status_code=400,
                code="invalid_csv",
                title="The operator's totals could not be read.",
                detail=str(exc),
                errors=[{"index": e["line"], "field": e["field"], "message": e["message"]} for e in exc.errors],
            ) from None
        return Response(ReconciliationSerializer(run).data, status=status.HTTP_201_CREATED)
