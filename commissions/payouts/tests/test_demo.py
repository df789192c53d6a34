"""The demo has statements in every status, and a second run changes nothing."""

import io

import pytest
from django.core.management import call_command

from commissions.payouts.choices import StatementStatus
from commissions.payouts.models import PayoutStatement
from core.management.commands import seed_demo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_demo_has_statements_in_every_status_and_running_it_again_changes_nothing(monkeypatch):
    monkeypatch.setattr(seed_demo, "APP_DEMOS", ("commissions.payouts.demo",))
    call_command("seed_demo", stdout=io.StringIO())
    first = sorted(PayoutStatement.objects.values_list("pk", "status", "total"))
    assert {status for _, status, _ in first} == set(StatementStatus.values)
    call_command("seed_demo", stdout=io.StringIO())
    assert sorted(PayoutStatement.objects.values_list("pk", "status", "total")) == first
    carried = PayoutStatement.objects.get(affiliate__name="Slots Review Hub", status=StatementStatus.DRAFT)
    assert carried.carried_in == 60 and carried.amount == 135
