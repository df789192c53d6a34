"""API paths answer problem+json even for Django-level 404 and 500; other paths keep HTML pages."""

from django.views import defaults

from core.problems import api_not_found, api_server_error

_API_PREFIXES = ("/api/", "/postback/", "/healthz")


def not_found(request, exception=None):
    if request.path.startswith(_API_PREFIXES):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(_API_PREFIXES):
        return api_server_error(request)
    return defaults.server_error(request)
