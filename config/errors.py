"""API paths answer problem+json even for Django-level 404 and 500; other paths keep HTML pages."""

from django.views import defaults

from core.problems import api_not_found, api_server_error, problem_response

_API_PREFIXES = ("/api/", "/postback/", "/healthz")


def not_found(request, exception=None):
    if request.path.startswith(_API_PREFIXES):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request):
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
