"""RFC 9457 problem+json for every API error, from one exception handler."""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://affiliate-platform.dev/problems/"


class Problem(exceptions.APIException):
    """An error with a stable machine-readable `code` (also the last part of its `type`)."""

    def __init__(self, *, status_code: int, code: str, title: str, detail: str = "", errors=None, extra=None):
        super().__init__(detail=detail or title, code=code)
        self.status_code = status_code
        self.code = code
        self.title = title
        self.errors = errors
        self.extra = extra or {}


def flatten_errors(detail, prefix: str = "") -> list[dict]:
    """Turn DRF's nested error detail into a list of {field, message}."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # DRF reports list items (ListField, many=True) by index
                field = f"{prefix}[{key}]" if prefix else str(key)
            else:
                name = key if key != "non_field_errors" else ""
                field = f"{prefix}.{name}" if prefix and name else (prefix or name)
            out.extend(flatten_errors(value, field))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out.extend({"field": prefix or None, "message": str(item)} for item in detail)
        else:
            for index, item in enumerate(detail):
                out.extend(flatten_errors(item, f"{prefix}[{index}]" if prefix else str(index)))
    else:
        out.append({"field": prefix or None, "message": str(detail)})
    return out


_TITLES = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    503: "Service unavailable",
}


def problem_body(*, status_code: int, code: str, title: str, detail: str, errors=None, **extra) -> dict:
    """Every problem carries `errors`: the field errors, or one entry (field null) saying what went wrong."""
    body = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
        "errors": list(errors) if errors else [{"field": None, "message": detail}],
    }
    body.update(extra)
    return body


class RequestTooLarge(Problem):
    def __init__(self, limit: int):
        super().__init__(
            status_code=413,
            code="request_too_large",
            title=_TITLES[413],
            detail=f"The request body is larger than {limit} bytes.",
        )


class _RateLimited(Problem):
    def __init__(self, wait):
        super().__init__(
            status_code=429,
            code="rate_limited",
            title=_TITLES[429],
            detail=f"This API key made too many requests; retry after {wait} s.",
        )
        self.wait = wait  # DRF's handler turns it into Retry-After


def _rate_limited(exc: exceptions.Throttled) -> Problem:
    import math

    return _RateLimited(max(1, math.ceil(exc.wait or 1)))


def problem_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    elif isinstance(exc, IntegrityError):
        # a race past the validators (two creates of one slug at once): the database said no, not a crash
        exc = Problem(
            status_code=409,
            code="conflict",
            title=_TITLES[409],
            detail="The change conflicts with data written at the same time; reload and try again.",
        )
    elif isinstance(exc, OverflowError | DataError):
        # a value past what the database stores (an id beyond bigint, a number beyond its column) that a
        # validator let through: the request is wrong, not the server
        logger.warning("API value out of range: %s", exc)
        exc = Problem(
            status_code=400,
            code="out_of_range",
            title=_TITLES[400],
            detail="A value in the request is out of the range this API stores.",
        )
    elif isinstance(exc, exceptions.Throttled):
        exc = _rate_limited(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    code_status = response.status_code
    if isinstance(exc, Problem):
        body = problem_body(
            status_code=code_status,
            code=exc.code,
            title=exc.title,
            detail=str(exc.detail),
            errors=exc.errors,
            **exc.extra,
        )
    elif isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors[:5])
        body = problem_body(
            status_code=code_status, code="validation_error", title=_TITLES[400], detail=detail, errors=errors
        )
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        body = problem_body(
            status_code=code_status, code=str(code), title=_TITLES.get(code_status, "Error"), detail=str(detail)
        )
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_response(status_code: int, code: str, detail: str, **extra) -> JsonResponse:
    """A problem+json answer for plain Django views (outside DRF)."""
    body = problem_body(
        status_code=status_code, code=code, title=_TITLES.get(status_code, "Error"), detail=detail, **extra
    )
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def api_not_found(request, exception=None):
    return problem_response(status.HTTP_404_NOT_FOUND, "not_found", "No such endpoint or object.")


def api_server_error(request):
    return problem_response(500, "server_error", "The server failed to handle this request; it has been logged.")


__all__ = ["Problem", "Response", "problem_exception_handler", "problem_response"]
