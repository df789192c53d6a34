import pytest

from integrations.monitoring import demo
from integrations.monitoring.models import AlertRule, GoLiveRun

pytestmark = pytest.mark.django_db


def test_demo_seeds_a_staging_source_that_passes_go_live_and_is_idempotent(eager, settings):
    from affiliates.demo import seed as seed_programme

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the demo users' passwords
    ctx = seed_programme()
    lines = demo.seed(ctx)
    assert "monitoring: go-live checklist of Staging CRM (test mode): passed" in lines
    staging = GoLiveRun.objects.get().source
    assert staging.test_mode
    assert AlertRule.objects.filter(source=staging).exists()
    # run again: nothing new
    again = demo.seed(ctx)
    assert GoLiveRun.objects.count() == 1
    assert "monitoring: 0 alert rules tuned" in again
