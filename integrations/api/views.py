import json
from urllib.parse import parse_qsl

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.idempotency import IdempotentPostMixin
from core.parsers import JSONTooDeep, json_loads
from core.problems import PROBLEM_CONTENT_TYPE, problem_body

from .. import selectors, services
from ..filters import EventFilter, FxRateFilter, InboundEventFilter, SourceFilter
from ..ingestion import (
    RequestMeta,
    inbound_receive,
    inbound_replay,
    inbound_store_rejected,
    rate_limit_retry_after,
    replay_summary,
    source_runtime,
)
from ..mapping import MappingError, compile_mapping
from ..models import FxRate, Source
from .serializers import (
    ConversionEventSerializer,
    EventBatchInSerializer,
    EventInSerializer,
    EventResultsSerializer,
    FxImportResultSerializer,
    FxImportSerializer,
    FxRateSerializer,
    InboundEventSerializer,
    MappingTestResultSerializer,
    MappingTestSerializer,
    MappingVersionSerializer,
    ReplayResultSerializer,
    ReplaySerializer,
    SourceCreatedSerializer,
    SourceSerializer,
)

MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 5 * 1024 * 1024
TITLES = {400: "Invalid request", 403: "Forbidden", 413: "Request too large", 429: "Too many requests"}


def problem(status_code: int, code: str, detail: str, headers=None, **extra) -> Response:
    body = problem_body(
        status_code=status_code, code=code, title=TITLES.get(status_code, "Error"), detail=detail, **extra
    )
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


@extend_schema_view(
    list=extend_schema(summary="List sources"),
    retrieve=extend_schema(summary="Read a source"),
)
class SourceViewSet(IdempotentPostMixin, viewsets.ModelViewSet):
    """Operator systems that send events. Each mapping save is a new version."""

    queryset = Source.objects.select_related("brand").order_by("pk")
    serializer_class = SourceSerializer
    filterset_class = SourceFilter
    lookup_field = "slug"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    @extend_schema(request=SourceSerializer, responses={201: SourceCreatedSerializer})
    def create(self, request, *args, **kwargs):
        """Create a source; the answer carries its `api_key` once (it is never shown again)."""
        serializer = SourceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("note", None)
        source, raw = services.source_create(key_name=f"{data['slug']} ingestion", **data)
        body = SourceCreatedSerializer(source).data
        body["api_key"] = raw
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("slug", None)
        data.pop("brand", None)
        note = data.pop("note", "") or f"via API key {getattr(self.request.auth, 'name', '')!r}"
        serializer.instance = services.source_update(source=serializer.instance, note=note, **data)

    @extend_schema(request=MappingTestSerializer, responses=MappingTestResultSerializer)
    @action(detail=True, methods=["post"], url_path="mapping-test")
    def mapping_test(self, request, slug=None):
        """Dry run: map a sample payload (or query string) with the saved mapping, or with `mapping`
        if given; answers the canonical event or the errors and stores nothing."""
        source = self.get_object()
        data = MappingTestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(mapping_dry_run(source, **data.validated_data))

    @extend_schema(responses=MappingVersionSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="mapping-versions", pagination_class=None)
    def mapping_versions(self, request, slug=None):
        """Every saved mapping of the source, newest first, with who and when."""
        source = self.get_object()
        return Response(MappingVersionSerializer(source.mapping_versions.order_by("-version"), many=True).data)


def mapping_dry_run(source: Source, *, payload=None, query: str | None = None, mapping=None) -> dict:
    try:
        mapper = compile_mapping(source.mapping if mapping is None else mapping)
    except MappingError as exc:
        raise ValidationError({"mapping": exc.errors}) from None
    if query is not None:
        payload = dict(parse_qsl(query.lstrip("?"), keep_blank_values=False))
    result = mapper.map(payload)
    return {
        "ok": result.ok,
        "canonical": result.canonical,
        "event_id": result.external_id,
        "reason_code": result.reason_code,
        "errors": [p.as_dict() for p in result.errors],
    }


def _event_text(event) -> str:
    return json.dumps(event, default=str, separators=(",", ":"), ensure_ascii=False)


def _results(answers, offset: int = 0) -> list[dict]:
    out = []
    for index, answer in enumerate(answers, start=offset):
        item = {"index": index, "id": str(answer.id), "status": answer.status, "errors": answer.errors}
        if answer.code and answer.status == "rejected":
            item["code"] = answer.code
        out.append(item)
    return out


@extend_schema_view(
    list=extend_schema(summary="List canonical events (management key)"),
    retrieve=extend_schema(summary="Read a canonical event (management key)"),
)
class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`POST` (source key): ingest one event or a batch. `GET` (management key): canonical events."""

    queryset = selectors.conversion_events()
    serializer_class = ConversionEventSerializer
    filterset_class = EventFilter
    # The POST reads its own body: a 5 MiB limit (Django's own would stop at 2.5 MiB) and Decimal JSON.
    parser_classes: list = []

    @property
    def required_scope(self) -> str:
        return "source" if self.request is not None and self.request.method == "POST" else "management"

    def get_parsers(self):
        return []

    @extend_schema(
        summary="Send events (source key)",
        request={"application/json": EventBatchInSerializer},
        responses={
            202: EventResultsSerializer,
            400: OpenApiResponse(description="Invalid JSON, wrong content type, not an event or batch"),
            413: OpenApiResponse(description="More than 1000 events or 5 MiB"),
            429: OpenApiResponse(description="Past the source's rate limit (Retry-After)"),
        },
        description='One event object, or {"events": [...]} (≤ 1000 events, ≤ 5 MiB). Each event is mapped, '
        "validated and stored on its own: 202 with a status per event (accepted, duplicate, rejected). "
        "The event fields are the source's own, translated by its mapping; with the default mapping they are "
        "the canonical fields of EventIn.",
    )
    def create(self, request, *args, **kwargs):
        runtime = source_runtime(source_id=request.auth.source_id)
        if runtime is None:
            return problem(403, "source_inactive", "This key's source is not active.")
        django_request = request._request
        meta = RequestMeta(
            channel="api",
            method="POST",
            content_type=django_request.META.get("CONTENT_TYPE", ""),
            remote_addr=django_request.META.get("REMOTE_ADDR") or None,
        )

        def reject(status_code: int, code: str, detail: str, body: str = "", headers=None) -> Response:
            stored = inbound_store_rejected(runtime=runtime, meta=meta, code=code, detail=detail, body=body)
            return problem(status_code, code, detail, headers=headers, id=str(stored.pk))

        length = django_request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > MAX_BATCH_BYTES:
            return reject(413, "body_too_large", f"The body may be at most {MAX_BATCH_BYTES} bytes (5 MiB).")
        raw = django_request.read(MAX_BATCH_BYTES + 1)
        if len(raw) > MAX_BATCH_BYTES:
            return reject(413, "body_too_large", f"The body may be at most {MAX_BATCH_BYTES} bytes (5 MiB).")
        body = raw.decode("utf-8", errors="replace")
        content_type = (django_request.content_type or "").lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            return reject(
                400, "unsupported_content_type", f"Send application/json, not {content_type or 'nothing'!r}.", body
            )
        try:
            data = json_loads(raw)
        except JSONTooDeep as exc:
            return reject(400, "json_too_deep", f"The body is {exc}.", body[:4096])
        except ValueError as exc:  # also UnicodeDecodeError
            return reject(400, "invalid_json", f"The body is not valid JSON: {exc}", body)
        if isinstance(data, dict) and isinstance(data.get("events"), list) and len(data) == 1:
            events = data["events"]
        elif isinstance(data, list):
            events = data
        elif isinstance(data, dict) and "events" not in data:
            events = [data]
        else:
            return reject(400, "invalid_payload", 'Send one event object or {"events": [...]}.', body)
        if not events:
            return reject(400, "invalid_payload", "The batch has no events.", body)
        if len(events) > MAX_BATCH_EVENTS:
            return reject(
                413,
                "batch_too_large",
                f"A batch may hold at most {MAX_BATCH_EVENTS} events, not {len(events)}.",
                body[:4096],
            )
        retry_after = rate_limit_retry_after(runtime=runtime, count=len(events))
        if retry_after:
            return reject(
                429,
                "rate_limited",
                f"Over {runtime.rate_limit_per_minute} events per minute; retry after {retry_after} s.",
                body[:4096],
                headers={"Retry-After": str(retry_after)},
            )
        # Each event's own text, as ingestion.dumps writes it (Decimals as strings) without its extra pass.
        bodies = [body] if len(events) == 1 else [_event_text(event) for event in events]
        answers = inbound_receive(runtime=runtime, payloads=events, meta=meta, bodies=bodies)
        return Response({"results": _results(answers)}, status=status.HTTP_202_ACCEPTED)


class InboundEventViewSet(
    IdempotentPostMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Raw inbound events as stored (rejected ones with their reason), and replay."""

    queryset = selectors.inbound_events()
    serializer_class = InboundEventSerializer
    filterset_class = InboundEventFilter

    @extend_schema(request=ReplaySerializer, responses=ReplayResultSerializer)
    @action(detail=False, methods=["post"])
    def replay(self, request):
        """Re-process rejected events under their source's current mapping (e.g. after a fix or a new FX
        rate); answers each event's status afterwards."""
        data = ReplaySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcomes = inbound_replay(inbound_ids=data.validated_data["ids"])
        return Response(
            {"outcomes": {str(k): v for k, v in sorted(outcomes.items())}, "summary": replay_summary(outcomes)}
        )


class FxRateViewSet(IdempotentPostMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """FX rates: units of the base currency per 1 unit of `currency` on `date`."""

    queryset = FxRate.objects.all()
    serializer_class = FxRateSerializer
    filterset_class = FxRateFilter

    def perform_create(self, serializer):
        serializer.instance = services.fx_rate_create(**serializer.validated_data, origin="api")

    @extend_schema(request=FxImportSerializer, responses=FxImportResultSerializer)
    @action(detail=False, methods=["post"], url_path="import")
    def import_csv(self, request):
        """Import an ECB reference-rate CSV (rates crossed to the base currency; existing days replaced)."""
        data = FxImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        counts = services.fx_rates_import(text=data.validated_data["csv"])
        return Response(counts)


__all__ = ["EventInSerializer", "EventViewSet", "FxRateViewSet", "InboundEventViewSet", "SourceViewSet"]
