"""The postback as gunicorn serves it: config.wsgi sends server-to-server paths through a shorter chain."""

import io
from contextlib import contextmanager
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from config.wsgi import PathDispatch, application
from integrations.models import InboundEvent, InboundStatus

pytestmark = pytest.mark.django_db


@contextmanager
def connections_kept():
    """As Django's test client does: a request must not close the test's connection (and its transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def call(path: str, query: str = "") -> tuple[int, dict, bytes]:
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    with connections_kept():
        chunks = application(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            chunks.close()
    return answer["status"], answer["headers"], body


def middleware_of(handler) -> list[str]:
    """The class names of a handler's middleware, outermost first."""
    names, layer = [], handler._middleware_chain
    while (instance := getattr(layer, "__wrapped__", layer)) is not None and hasattr(instance, "get_response"):
        names.append(type(instance).__name__)
        layer = instance.get_response
    return names


def test_the_application_serves_postback_paths_through_the_server_to_server_chain():
    assert isinstance(application, PathDispatch) and application.prefixes == ("/postback/",)
    assert middleware_of(application.s2s) == ["SecurityMiddleware", "CommonMiddleware", "XFrameOptionsMiddleware"]
    assert "SessionMiddleware" in middleware_of(application.default)


def test_a_postback_through_the_wsgi_application_is_stored_and_answered_without_cookies(make_source):
    source, key = make_source()
    status, headers, body = call(f"/postback/{source.slug}/", f"type=signup&customer_id=C1&event_id=E1&key={key}")
    assert status == 202
    assert body.startswith(b'{"id": "') and body.endswith(b'", "status": "accepted"}')
    assert InboundEvent.objects.get(source=source).status in (InboundStatus.RECEIVED, InboundStatus.PROCESSED)
    assert "Set-Cookie" not in headers and "Cookie" not in headers.get("Vary", "")
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    status, _headers, body = call(f"/postback/{source.slug}", f"type=signup&customer_id=C1&event_id=E1&key={key}")
    assert (status, b'"status": "duplicate"' in body) == (200, True)


def test_an_unknown_path_under_postback_answers_problem_json():
    status, headers, _body = call("/postback/a/b/")
    assert status == 404 and headers["Content-Type"] == "application/problem+json"


def test_other_paths_keep_the_full_chain():
    status, headers, _body = call("/admin/login/")
    assert status == 200 and "csrftoken" in headers.get("Set-Cookie", "")
