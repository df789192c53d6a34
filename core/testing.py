"""Helpers for tests that run a real Celery worker on a real Redis broker (marker `broker`)."""

import threading
from collections.abc import Callable

from config.celery import app


def use_broker(url: str) -> None:
    """Point the Celery app at `url`; cached producer and connection pools are dropped so the next
    publish connects anew."""
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll while a worker thread works (it runs in real time, not under time-machine)."""
    pause = threading.Event()
    for _ in range(int(seconds / 0.1)):
        if condition():
            return True
        pause.wait(0.1)
    return condition()
