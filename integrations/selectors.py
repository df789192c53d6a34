"""Reads for the ingestion API, admin and sweep."""

from datetime import datetime

from django.db.models import QuerySet

from tracking.models import ConversionEvent

from .models import InboundEvent, InboundStatus


def conversion_events() -> QuerySet[ConversionEvent]:
    """Canonical events with what their listing shows (source, brand, customer) in one query."""
    return ConversionEvent.objects.select_related("source", "brand", "customer")


def inbound_events() -> QuerySet[InboundEvent]:
    return InboundEvent.objects.select_related("source", "mapping_version")


def inbound_unprocessed_ids(*, received_before: datetime, limit: int) -> list[int]:
    """Stored events still waiting for processing (oldest first): what the sweep picks up."""
    return list(
        InboundEvent.objects.filter(status=InboundStatus.RECEIVED, received_at__lte=received_before)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def inbound_reason_counts(*, source_id: int | None = None, since: datetime | None = None) -> dict[str, int]:
    """Rejections by reason code (for managers and monitoring)."""
    from django.db.models import Count

    queryset = InboundEvent.objects.filter(status=InboundStatus.REJECTED)
    if source_id is not None:
        queryset = queryset.filter(source_id=source_id)
    if since is not None:
        queryset = queryset.filter(received_at__gte=since)
    rows = queryset.order_by().values("reason_code").annotate(n=Count("pk"))
    return {row["reason_code"]: row["n"] for row in rows}
