import ipaddress
import socket
from unittest import mock

import pytest

from .receiver import start_receiver, stop_receiver


@pytest.fixture
def private_targets(settings):
    """Deliveries may go to this machine's loopback receiver (as WEBHOOKS_ALLOW_PRIVATE_TARGETS=1 allows)."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOKS_TIMEOUT_SECONDS = 2.0
    return settings


@pytest.fixture
def receiver(private_targets):
    from integrations.webhooks.transport import close_kept_connections

    server = start_receiver()
    yield server
    close_kept_connections()
    stop_receiver(server)


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run a block as if its transaction committed: on-commit work (dispatch, delivery) runs at the end."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture(autouse=True)
def _no_outside_dns():
    """Tests never reach outside the machine, DNS included: every name resolves to a documentation-range
    public address (tests that need other answers patch `socket.getaddrinfo` themselves)."""

    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            ipaddress.ip_address(host)
            return real(host, port, *args, **kwargs)
        except ValueError:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    with mock.patch("socket.getaddrinfo", side_effect=getaddrinfo):
        yield


@pytest.fixture(autouse=True)
def _tasks_inline(request):
    """Delivery tasks run inline, also where REDIS_URL is set (settings are read before the root conftest asks
    for eager tasks). Tests with a real broker (`broker`) opt out."""
    from config.celery import app

    if request.node.get_closest_marker("broker"):
        yield
        return
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
