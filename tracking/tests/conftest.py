import pytest

from tracking.redirect import link_cache_forget


@pytest.fixture(autouse=True)
def _fresh_link_cache():
    link_cache_forget()
    yield
    link_cache_forget()
