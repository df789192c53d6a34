import datetime as dt

import pytest
import time_machine

from integrations.tests.factories import SourceFactory

T0 = dt.datetime(2026, 11, 2, 10, 30, tzinfo=dt.UTC)  # a Monday


@pytest.fixture
def announced(monkeypatch):
    """What the alert services handed to the outbox, in order."""
    calls = []
    monkeypatch.setattr(
        "integrations.monitoring.services.outbox_publish", lambda **kwargs: calls.append(kwargs), raising=True
    )
    return calls


@pytest.fixture
def manager(django_user_model):
    # No password: hashing one costs a second per test; pages are opened with force_login.
    return django_user_model.objects.create(
        username="manager", email="manager@example.com", is_staff=True, is_superuser=True
    )


@pytest.fixture
def traveller():
    """Move the clock: `traveller(at)` then `traveller.move(minutes=…)`."""

    class Travel:
        def __init__(self):
            self._tm = None

        def __call__(self, at):
            if self._tm:
                self._tm.stop()
            self._tm = time_machine.travel(at, tick=False)
            self._tm.start()
            self.now = at
            return self

        def move(self, **delta):
            return self(self.now + dt.timedelta(**delta))

        def stop(self):
            if self._tm:
                self._tm.stop()

    t = Travel()
    yield t
    t.stop()


@pytest.fixture
def old_source(db):
    """A source that has existed for two months (so it has a baseline)."""
    source = SourceFactory(slug="casino-crm", name="Casino CRM")
    type(source).objects.filter(pk=source.pk).update(created_at=T0 - dt.timedelta(days=60))
    source.refresh_from_db()
    return source


@pytest.fixture
def eager(monkeypatch):
    """Run `.delay()` inline even where REDIS_URL made the settings pick a real broker."""
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)


@pytest.fixture(autouse=True)
def _fresh_source_runtime():
    """Ingestion caches sources per process by slug and id; tests reuse both, so each starts clean."""
    from integrations.ingestion import source_runtime_forget

    source_runtime_forget()
    yield
    source_runtime_forget()
