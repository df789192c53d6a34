from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.idempotency import IdempotentPostMixin
from core.problems import Problem

from .. import services
from ..filters import CommissionEntryFilter
from ..models import CommissionEntry
from ..selectors import commission_entries
from .serializers import (
    BulkDecisionInputSerializer,
    CommissionEntrySerializer,
    DecisionInputSerializer,
    RecalculationInputSerializer,
    RecalculationSerializer,
)


class CommissionEntryViewSet(
    IdempotentPostMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The commission ledger: read it, approve or reject open entries early, recalculate."""

    queryset = commission_entries()
    serializer_class = CommissionEntrySerializer
    filterset_class = CommissionEntryFilter

    def _decide(self, request, service, *, bulk: bool):
        data = (BulkDecisionInputSerializer if bulk else DecisionInputSerializer)(data=request.data or {})
        data.is_valid(raise_exception=True)
        if bulk:
            ids = sorted(set(data.validated_data["ids"]))
            entries = list(CommissionEntry.objects.filter(pk__in=ids))
            missing = sorted(set(ids) - {e.pk for e in entries})
            if missing:
                raise Problem(status_code=404, code="not_found", title="Unknown commission entries.",
                              detail=f"No entries with ids {missing}.")  # fmt: skip
        else:
            entries = [self.get_object()]
        done = service(entries=entries, reason=data.validated_data["reason"], by=None)
        if bulk:
            return Response({"results": CommissionEntrySerializer(done, many=True).data})
        return Response(CommissionEntrySerializer(done[0]).data)

    @extend_schema(request=DecisionInputSerializer, responses=CommissionEntrySerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a pending or on-hold entry before its hold ends."""
        return self._decide(request, services.commission_approve, bulk=False)

    @extend_schema(request=DecisionInputSerializer, responses=CommissionEntrySerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject a pending or on-hold entry (a reason is required). Approved entries are reversed instead."""
        return self._decide(request, services.commission_reject, bulk=False)

    @extend_schema(request=BulkDecisionInputSerializer, responses=CommissionEntrySerializer(many=True))
    @action(detail=False, methods=["post"], url_path="bulk-approve")
    def bulk_approve(self, request):
        """Approve many open entries at once; all or none."""
        return self._decide(request, services.commission_approve, bulk=True)

    @extend_schema(request=BulkDecisionInputSerializer, responses=CommissionEntrySerializer(many=True))
    @action(detail=False, methods=["post"], url_path="bulk-reject")
    def bulk_reject(self, request):
        """Reject many open entries at once with one reason; all or none."""
        return self._decide(request, services.commission_reject, bulk=True)

    @extend_schema(request=RecalculationInputSerializer, responses=RecalculationSerializer)
    @action(detail=False, methods=["post"])
    def recalculate(self, request):
        """Recompute an affiliate's or a brand month's commissions: a what-if of the differences, or
        (apply=true) the differences booked as adjustment entries."""
        data = RecalculationInputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = services.commission_recalculate(
            affiliate=v.get("affiliate"), brand=v.get("brand"), period=v.get("period"), apply=v["apply"]
        )
        code = status.HTTP_201_CREATED if result.applied and result.booked else status.HTTP_200_OK
        return Response(result.as_dict(), status=code)
