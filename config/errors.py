"""API paths answer problem+json even for Django-level 404 and 500; other paths keep HTML pages.

A request that failed because the database is unreachable (restarting, failing over, out of connections)
answers 503 with Retry-After instead of 500: nothing was stored, and the same request may be sent again.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.views import defaults

from core.problems import api_not_found, api_server_error, problem_response

_API_PREFIXES = ("/api/", "/postback/", "/healthz")


def not_found(request, exception=None):
    if request.path.startswith(_API_PREFIXES):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


DATABASE_RETRY_AFTER_SECONDS = 5


def _database_unavailable() -> bool:
    exc = sys.exc_info()[1]  # Django calls handler500 while it handles the exception
    while exc is not None:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def server_error(request):
    if _database_unavailable():
        if request.path.startswith(_API_PREFIXES):
            response = problem_response(
                503, "database_unavailable", "The database is unavailable for a moment; nothing was stored. Retry."
            )
        else:
            response = HttpResponse(
                "The service is unavailable for a moment. Please retry.", status=503, content_type="text/plain"
            )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    if request.path.startswith(_API_PREFIXES):
        return api_server_error(request)
    return defaults.server_error(request)


def bad_request(request, exception=None):
    if request.path.startswith(_API_PREFIXES):
        return problem_response(
            400, "bad_request", "The request is malformed (or names a host this platform does not serve)."
        )
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if request.path.startswith(_API_PREFIXES):
        return problem_response(403, "forbidden", "This request is not allowed.")
    return defaults.permission_denied(request, exception)
