from integrations.tests.conftest import _fresh_source_cache, _tasks_inline, make_source, source_client  # noqa: F401
