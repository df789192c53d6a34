"""The go-live checklist against a local stand-in of the postback endpoint (the transport boundary)."""

import datetime as dt
from decimal import Decimal

import pytest

from core.models import ApiKey
from integrations.monitoring import golive
from integrations.monitoring.models import GoLiveRun
from integrations.tests.factories import SourceFactory
from tracking.models import ConversionEvent
from tracking.tests.factories import ConversionEventFactory

from .factories import AlertRuleFactory, InboundEventFactory

pytestmark = pytest.mark.django_db


class Endpoint:
    """Behaves like the postback endpoint for canonical payloads; each flag breaks one behaviour."""

    def __init__(self, source, *, seconds=0.05, store=True, dedupe=True, crash_without_click=False):
        self.source, self.seconds, self.store, self.dedupe = source, seconds, store, dedupe
        self.crash_without_click = crash_without_click
        self.calls = []

    def __call__(self, path, key, body):
        self.calls.append((path, body))
        assert path == f"/postback/{self.source.slug}/" and key.startswith("src_")
        assert ApiKey.objects.get(prefix=key.split("_")[1]).revoked_at is None
        if self.crash_without_click and "click_id" not in body:
            return golive.Answer(500, {}, self.seconds)
        exists = ConversionEvent.objects.filter(source=self.source, external_id=body["event_id"]).exists()
        if exists and self.dedupe:
            return golive.Answer(200, {"id": "1", "status": "duplicate"}, self.seconds)
        if self.store and not exists:
            ConversionEventFactory(
                source=self.source,
                brand=self.source.brand,
                external_id=body["event_id"],
                type=body["type"],
                amount=Decimal(body["amount"]) if "amount" in body else None,
            )
        return golive.Answer(202, {"id": "1", "status": "accepted"}, self.seconds)


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


def run(source, endpoint, clock=None):
    clock = clock or FakeClock()
    started = golive.golive_run_start(source=source)
    return golive.golive_run_execute(run_id=started.pk, send=endpoint, clock=clock, sleep=clock.sleep)


def by_check(result):
    return {r["check"]: r for r in result.results}


@pytest.fixture
def staging():
    return SourceFactory(slug="staging-crm", test_mode=True)


def test_well_behaved_source_passes_every_check_and_the_probe_key_is_revoked(staging):
    result = run(staging, Endpoint(staging))
    checks = by_check(result)
    assert list(checks) == ["answer_2s", "visible_60s", "duplicate", "missing_click_id", "zero_value", "capacity"]
    assert all(r["passed"] for r in result.results), result.results
    assert result.passed and result.finished_at is not None
    assert ConversionEvent.objects.get(source=staging, external_id=f"golive-{result.pk}-zero").amount == 0
    assert ApiKey.objects.get(source=staging).revoked_at is not None


def test_slow_answer_fails_the_two_second_check(staging):
    checks = by_check(run(staging, Endpoint(staging, seconds=2.4)))
    assert not checks["answer_2s"]["passed"]
    assert checks["answer_2s"]["measured"]["seconds"] == 2.4


def test_conversion_never_visible_fails_after_sixty_seconds_without_waiting_for_real(staging):
    clock = FakeClock()
    checks = by_check(run(staging, Endpoint(staging, store=False), clock=clock))
    assert not checks["visible_60s"]["passed"]
    assert checks["visible_60s"]["detail"] == "not visible after 60 s"
    assert clock.t == 60.0


def test_a_repeat_not_answered_as_duplicate_fails(staging):
    assert not by_check(run(staging, Endpoint(staging, dedupe=False)))["duplicate"]["passed"]


def test_server_error_on_a_missing_click_id_fails(staging):
    result = run(staging, Endpoint(staging, crash_without_click=True))
    assert not by_check(result)["missing_click_id"]["passed"]
    assert not result.passed


def test_source_not_in_test_mode_gets_no_probes():
    live = SourceFactory(slug="live-crm", test_mode=False)
    endpoint = Endpoint(live)
    result = run(live, endpoint)
    assert endpoint.calls == []
    assert [r["check"] for r in result.results] == ["test_mode", "capacity"]
    assert not result.passed


@pytest.mark.parametrize(
    ("declared", "passed", "needed"),
    [(100_000, True, "138.89"), (200_000, False, "277.78")],
)
def test_capacity_compares_five_times_the_declared_peak_with_sustained_throughput(staging, declared, passed, needed):
    AlertRuleFactory(source=staging, expected_peak_per_hour=declared)
    check = golive.check_capacity(source=staging)
    assert (check["passed"], check["measured"]["needed_per_second"]) == (passed, needed)
    assert check["measured"]["sustained_per_second"] == "200"


def test_capacity_uses_the_busiest_observed_hour_without_a_declaration(staging):
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=3)
    for i in range(7):
        InboundEventFactory(source=staging, received_at=now + dt.timedelta(minutes=i))
    InboundEventFactory(source=staging, received_at=now - dt.timedelta(hours=5))
    check = golive.check_capacity(source=staging)
    assert check["measured"]["peak_per_hour"] == 7
    assert check["measured"]["needed_per_second"] == "0.01"


def test_probe_is_written_in_the_source_dialect():
    source = SourceFactory(
        slug="dialect",
        mapping={
            "fields": {
                "event_id": "dep_id",
                "type": "action",
                "customer_id": "player",
                "click_id": "tracking.clickId",
                "amount": {"path": "amt", "divide": 100},
                "occurred_at": {"path": "ts", "format": "unix"},
            },
            "event_types": {"reg": "registration", "first_dep": "ftd"},
        },
    )
    when = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
    payload = golive.probe_payload(
        source=source,
        canonical={
            "event_id": "E1",
            "type": "ftd",
            "customer_id": "P1",
            "click_id": "c1",
            "amount": "25.00",
            "occurred_at": when,
            "currency": "EUR",
        },
        when=when,
    )
    assert payload == {
        "dep_id": "E1",
        "action": "first_dep",
        "player": "P1",
        "tracking": {"clickId": "c1"},
        "amt": "2500.00",
        "ts": 1793613600,
        "currency": "EUR",
    }


def test_admin_checklist_page_runs_the_checks(
    client, manager, staging, monkeypatch, django_capture_on_commit_callbacks, eager
):
    monkeypatch.setattr(golive, "default_sender", lambda: Endpoint(staging))
    client.force_login(manager)
    url = f"/admin/monitoring/alert/golive/{staging.pk}/"
    assert b"Never run" in client.get(url).content
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 302
    assert GoLiveRun.objects.get(source=staging).passed
    page = client.get(url)
    assert b"passed" in page.content and b"A postback is answered within 2 s" in page.content


def test_checklist_against_the_real_postback_endpoint_in_process(staging, eager):
    # given a test-mode source on the default mapping, and the platform's own postback endpoint
    started = golive.golive_run_start(source=staging)
    # when the checklist runs through Django's request handling
    result = golive.golive_run_execute(run_id=started.pk, send=golive.inprocess_sender)
    # then every behaviour holds, and the probe events are test events
    assert all(r["passed"] for r in result.results), result.results
    probes = ConversionEvent.objects.filter(source=staging, external_id__startswith=f"golive-{result.pk}-")
    assert probes.count() >= 2 and all(e.is_test for e in probes)


@pytest.mark.parametrize("preset", ["default", "casino_postbacks", "crm_events", "mt5_deals", "prop_shop_webhooks"])
def test_probes_speak_every_shipped_dialect(preset, eager):
    from affiliates.tests.factories import BrandFactory
    from integrations.services import source_create

    # given a staging source started from a shipped preset
    source, _ = source_create(
        slug=f"probe-{preset.replace('_', '-')}", name=preset, brand=BrandFactory(), preset=preset, test_mode=True
    )
    # when the platform runs the checklist against its own endpoint
    result = golive.golive_run_execute(run_id=golive.golive_run_start(source=source).pk, send=golive.inprocess_sender)
    # then the probes were understood: the FTD became a canonical FTD, and every check holds
    assert all(r["passed"] for r in result.results), result.results
    ftd = ConversionEvent.objects.get(source=source, external_id=f"golive-{result.pk}-ftd")
    assert (ftd.type, ftd.amount, ftd.is_test) == ("ftd", Decimal("25.00"), True)
