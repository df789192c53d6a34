"""The WSGI application: Django's, with server-to-server paths served by a shorter middleware chain.

A postback is called by an operator's server, never a browser: it has no session, user, messages or CSRF
token, and is measured against a bare view. Paths under settings.S2S_PATH_PREFIXES go through
settings.S2S_MIDDLEWARE (what shapes every answer: security headers, the common checks, X-Frame-Options);
every other path goes through settings.MIDDLEWARE as usual.
"""

import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class ServerToServerHandler(WSGIHandler):
    """Django's WSGI handler, its middleware chain built from settings.S2S_MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        from django.conf import settings

        # Django builds the chain from settings.MIDDLEWARE; this runs once, at start-up, before any request.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.S2S_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class PathDispatch:
    """Requests whose path starts with one of `prefixes` go to `s2s`, all others to `default`."""

    def __init__(self, default, s2s, prefixes: tuple[str, ...]):
        self.default = default
        self.s2s = s2s
        self.prefixes = prefixes

    def __call__(self, environ, start_response):
        app = self.s2s if environ.get("PATH_INFO", "").startswith(self.prefixes) else self.default
        return app(environ, start_response)


def application_build():
    from django.conf import settings

    default = get_wsgi_application()
    prefixes = tuple(settings.S2S_PATH_PREFIXES)
    return PathDispatch(default, ServerToServerHandler(), prefixes) if prefixes else default


application = application_build()
