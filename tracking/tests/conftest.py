import pytest

from tracking.redirect import link_cache_forget


@pytest.fixture(autouse=True)
def _fresh_link_cache():
    link_cache_forget()
    yield
    link_cache_forget()


@pytest.fixture
def admin_user(db, django_user_model):
    """A superuser without a password hash to compute (hashing dominates admin test time)."""
    return django_user_model.objects.create(
        username="admin", email="admin@example.com", is_staff=True, is_superuser=True
    )


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client
