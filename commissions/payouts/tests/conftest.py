import pytest


@pytest.fixture(autouse=True)
def _tasks_inline(request):
    """Tasks (ingestion, commissions, outbox) run inline, also where REDIS_URL is set; `broker` tests opt out."""
    from config.celery import app

    if request.node.get_closest_marker("broker"):
        yield
        return
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture(autouse=True)
def _fresh_caches():
    from django.core.cache import cache

    from integrations.ingestion import source_runtime_forget

    source_runtime_forget()
    cache.clear()
    yield
    source_runtime_forget()
