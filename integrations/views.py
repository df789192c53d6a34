"""`GET`/`POST /postback/<source-slug>/`: the S2S postback (CONTRACT.md "Ingestion").

A plain Django view, kept lean on purpose (it is measured against a bare one-INSERT view): the key
is checked against a per-process cache, the source and its compiled mapping come from a cache of a
few seconds, and the request is stored before the answer. The mapping pass runs here because the
CONTRACT's answers need it: a 400 for a request that cannot be mapped and a 200 for a duplicate event
id. It is pure Python (no database) and costs tens of microseconds; FX, attribution and the canonical
event are the worker's.
"""

from urllib.parse import unquote_plus

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from core.auth import bearer_token
from core.keys import authenticate_key
from core.models import ApiKeyScope
from core.parsers import JSONTooDeep, json_loads
from core.problems import problem_response

from .ingestion import RequestMeta, inbound_receive, inbound_store_rejected, rate_limit_retry_after, source_runtime

MAX_POSTBACK_BODY = 1024 * 1024
KEY_PARAM = "key"


def unauthorized(code: str, detail: str) -> JsonResponse:
    response = problem_response(401, code, detail)
    response["WWW-Authenticate"] = 'Bearer realm="postback"'
    return response


def authenticate_source(request, runtime, query_key: str = "") -> JsonResponse | None:
    """None if the request carries this source's key (header, or `query_key` from ?key=); otherwise the 401 answer."""
    raw = bearer_token(request) or query_key
    if not raw:
        return unauthorized("missing_source_key", "Send the source key as 'Authorization: Bearer <key>' or ?key=.")
    principal = authenticate_key(raw)
    if principal is None:
        return unauthorized("unknown_source_key", "Unknown or revoked source key.")
    if principal.scope != ApiKeyScope.SOURCE or principal.source_id != runtime.id:
        return unauthorized("wrong_source_key", "This key does not belong to this source.")
    return None


def rate_limited(runtime, meta, retry_after: int, body: str = "") -> JsonResponse:
    stored = inbound_store_rejected(
        runtime=runtime,
        meta=meta,
        code="rate_limited",
        detail=f"over {runtime.rate_limit_per_minute} events per minute",
        body=body,
    )
    response = problem_response(
        429,
        "rate_limited",
        f"This source may send {runtime.rate_limit_per_minute} events per minute; retry after {retry_after} s.",
        id=str(stored.pk),
    )
    response["Retry-After"] = str(retry_after)
    return response


class _TooManyFields(TooManyFieldsSent):
    def __init__(self, key: str):
        super().__init__("The number of GET/POST parameters exceeded settings.DATA_UPLOAD_MAX_NUMBER_FIELDS.")
        self.key = key


def _query(request) -> tuple[dict, str]:
    """(the first value of each query parameter but the key, the key's last value), decoded as Django's
    request.GET would be, without building the QueryDict."""
    raw = request.META.get("QUERY_STRING", "")
    if not raw:
        return {}, ""
    encoding = request.encoding or settings.DEFAULT_CHARSET
    try:
        data = raw.encode("iso-8859-1")  # WSGI hands the query string over as latin-1 text
    except UnicodeEncodeError:
        return {k: v[0] for k, v in request.GET.lists() if k != KEY_PARAM and v}, request.GET.get(KEY_PARAM, "")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        text = data.decode("iso-8859-1")
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if limit is not None and text.count("&") + 1 > limit:
        # refused after the key is checked, so that a source's malformed request is stored (DESIGN 5.1)
        key = ""
        for part in text.split("&"):
            if part.startswith(KEY_PARAM + "="):
                key = unquote_plus(part[len(KEY_PARAM) + 1 :], encoding=encoding)
        raise _TooManyFields(key)
    payload: dict = {}
    key = ""
    # urllib's parse_qsl(keep_blank_values=True), unquoting only what needs it.
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name, encoding=encoding)
        if "%" in value or "+" in value:
            value = unquote_plus(value, encoding=encoding)
        if name == KEY_PARAM:
            key = value
        elif name not in payload:
            payload[name] = value
    return payload, key


def _parse(request, payload: dict) -> tuple[dict | None, str, str, str]:
    """(payload, body text, problem code, problem detail); `payload` holds the query's parameters."""
    if request.method == "GET":
        return payload, "", "", ""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > MAX_POSTBACK_BODY:
        return None, "", "body_too_large", f"A postback body may be at most {MAX_POSTBACK_BODY} bytes."
    raw = request.read(MAX_POSTBACK_BODY + 1)
    if len(raw) > MAX_POSTBACK_BODY:
        return None, raw[:1024].decode("utf-8", "replace"), "body_too_large", "The body is too large."
    body = raw.decode("utf-8", errors="replace")
    content_type = request.content_type or ""
    if not raw.strip():
        return payload, body, "", ""
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            data = json_loads(raw)
        except JSONTooDeep as exc:
            return None, body[:4096], "json_too_deep", f"The body is {exc}."
        except ValueError as exc:  # also UnicodeDecodeError
            return None, body, "invalid_json", f"The body is not valid JSON: {exc}"
        if not isinstance(data, dict):
            return None, body, "invalid_payload", "The JSON body must be an object (one event)."
        return {**payload, **data}, body, "", ""
    if content_type == "application/x-www-form-urlencoded":
        from django.http import QueryDict

        form = QueryDict(raw, encoding=request.encoding or "utf-8")
        # a key sent in the form is not a credential here (only the query's and the header's are), but it is
        # one somewhere: it is not stored
        return {**payload, **{k: v[0] for k, v in form.lists() if k != KEY_PARAM and v}}, _strip_key(body), "", ""
    return (
        None,
        body,
        "unsupported_content_type",
        f"Send application/json or application/x-www-form-urlencoded, not {content_type or 'nothing'!r}.",
    )


@csrf_exempt
def postback(request, slug: str):
    if request.method not in ("GET", "POST"):
        response = problem_response(405, "method_not_allowed", "Use GET or POST.")
        response["Allow"] = "GET, POST"
        return response
    runtime = source_runtime(slug=slug)
    if runtime is None:
        return problem_response(404, "unknown_source", f"No active source {slug!r}.")
    try:
        query, query_key = _query(request)
        too_many = False
    except _TooManyFields as exc:
        query, query_key, too_many = {}, exc.key, True
    denied = authenticate_source(request, runtime, query_key)
    if denied is not None:
        return denied
    meta = RequestMeta(
        channel="postback",
        method=request.method,
        content_type=request.META.get("CONTENT_TYPE", ""),
        query_string=_strip_key(request.META.get("QUERY_STRING", "")),
        remote_addr=request.META.get("REMOTE_ADDR") or None,
    )
    if too_many:
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        detail = f"A postback may carry at most {limit} parameters."
        stored = inbound_store_rejected(runtime=runtime, meta=meta, code="too_many_fields", detail=detail)
        return problem_response(400, "too_many_fields", detail, id=str(stored.pk))
    retry_after = rate_limit_retry_after(runtime=runtime)
    if retry_after:
        return rate_limited(runtime, meta, retry_after)
    payload, body, code, detail = _parse(request, query)
    if not code and _holds_nul(payload):
        # a %00 in the query or form: no text column stores it (JSON bodies are checked by json_loads)
        code, detail = "invalid_text", "A parameter holds a NUL character (%00)."
    if code:
        stored = inbound_store_rejected(runtime=runtime, meta=meta, code=code, detail=detail, body=body)
        status = 413 if code == "body_too_large" else 400
        return problem_response(status, code, detail, id=str(stored.pk))
    [answer] = inbound_receive(runtime=runtime, payloads=[payload], meta=meta, bodies=[body])
    if answer.status == "rejected":
        return problem_response(400, answer.code, answer.detail, id=str(answer.id), errors=answer.errors)
    if answer.status == "duplicate":
        return _answer(200, answer.id, "duplicate")
    return _answer(202, answer.id, "accepted")


def _holds_nul(payload: dict) -> bool:
    return any(("\x00" in name) or (isinstance(value, str) and "\x00" in value) for name, value in payload.items())


def _answer(status: int, inbound_id: int, outcome: str) -> HttpResponse:
    """`{"id": "<inbound id>", "status": …}` as JsonResponse writes it, without its encoder (the id is an int)."""
    body = f'{{"id": "{int(inbound_id)}", "status": "{outcome}"}}'.encode()
    return HttpResponse(body, content_type="application/json", status=status)


def _strip_key(query_string: str) -> str:
    """The query string (or form body) as stored: the key is a credential and is never stored, however its
    name is spelled (`key=`, or percent-encoded as `%6Bey=`, which _query also reads as the key)."""
    if KEY_PARAM + "=" not in query_string and "%" not in query_string:
        return query_string
    return "&".join(part for part in query_string.split("&") if _name(part) != KEY_PARAM)


def _name(part: str) -> str:
    name = part.partition("=")[0]
    return unquote_plus(name) if "%" in name or "+" in name else name


class PostbackAnswerSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The inbound event id (for a duplicate: the original's).")
    status = serializers.ChoiceField(choices=["accepted", "duplicate"])


_PROBLEM = OpenApiResponse(description="application/problem+json with a stable `code` (see the integration guide)")
_POSTBACK_SCHEMA = {
    "summary": "S2S postback (source key)",
    "description": "Parameters are the source's own names, translated by its mapping (with the default mapping, "
    "the canonical event fields). The key may come as `Authorization: Bearer <key>` or `?key=`. Every "
    "authenticated request is stored before the answer.",
    "parameters": [
        OpenApiParameter("key", str, description="The source key, for URL templates that cannot set headers"),
    ],
    "responses": {
        202: PostbackAnswerSerializer,
        200: OpenApiResponse(PostbackAnswerSerializer, description="Duplicate: this source sent this event id"),
        400: _PROBLEM,
        401: _PROBLEM,
        404: _PROBLEM,
        413: _PROBLEM,
        429: OpenApiResponse(description="Past the source's rate limit; see Retry-After"),
    },
    "auth": [],
    "tags": ["ingestion"],
}


class PostbackView(APIView):
    """The postback as the OpenAPI schema describes it. Requests bypass DRF entirely (`dispatch`): the
    endpoint is the plain view above, for speed."""

    authentication_classes: list = []
    permission_classes: list = []

    def dispatch(self, request, *args, **kwargs):
        return postback(request, *args, **kwargs)

    @extend_schema(operation_id="postback_get", request=None, **_POSTBACK_SCHEMA)
    def get(self, request, slug: str):
        return postback(request._request, slug)

    @extend_schema(operation_id="postback_post", request={"application/json": dict}, **_POSTBACK_SCHEMA)
    def post(self, request, slug: str):
        return postback(request._request, slug)
