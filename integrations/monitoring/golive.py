"""The go-live checklist of a source, checked by the platform itself.

The platform sends probe postbacks to its own `/postback/<slug>/` endpoint in the source's dialect (the
canonical probe translated through the source's mapping), with a short-lived source key, and judges what
comes back and what lands in the tables:

1. a postback is answered within 2 s;
2. the test conversion is visible (a ConversionEvent) within 60 s;
3. a repeated event id is answered as a duplicate and counted once;
4. an event without a click id is answered clearly (stored, never a server error);
5. a zero-value deposit is kept as exactly zero or rejected with a reason, never lost or turned into null;
6. five times the source's busiest hour fits in the sustained throughput the platform was measured at.

Probes are real events, so they are only sent for a source in test mode (nothing they create is payable).
"""

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode, urlparse

from django.conf import settings
from django.db.models import Count, Max
from django.db.models.functions import TruncHour
from django.utils import timezone

from core.keys import api_key_create, api_key_revoke
from integrations.models import InboundEvent, Source
from tracking.models import ConversionEvent

from .alerts import rule_for
from .models import GoLiveRun

ANSWER_SECONDS = 2.0
VISIBLE_SECONDS = 60.0
PEAK_FACTOR = 5
# Sustained ingestion throughput (events/s) the platform was measured at on its reference deployment
# (bench/); a deployment overrides it with the figure it measured itself.
DEFAULT_SUSTAINED_EVENTS_PER_SECOND = 200


@dataclass
class Answer:
    status: int
    body: dict
    seconds: float


Sender = Callable[[str, str, dict], Answer]


def sustained_events_per_second() -> Decimal:
    return Decimal(str(getattr(settings, "SUSTAINED_EVENTS_PER_SECOND", DEFAULT_SUSTAINED_EVENTS_PER_SECOND)))


def inprocess_sender(path: str, key: str, body: dict) -> Answer:
    """POST through Django's own request handling (no network): what the view and its storage cost."""
    from django.test import Client

    host = urlparse(settings.PUBLIC_BASE_URL).hostname or "localhost"
    client = Client(raise_request_exception=False, HTTP_HOST=host)
    started = time.monotonic()
    response = client.post(f"{path}?{urlencode({'key': key})}", data=json.dumps(body), content_type="application/json")
    seconds = time.monotonic() - started
    try:
        parsed = json.loads(response.content or b"{}")
    except ValueError:
        parsed = {}
    return Answer(response.status_code, parsed if isinstance(parsed, dict) else {}, seconds)


def http_sender(base_url: str) -> Sender:
    """POST over HTTP to a running deployment: what an operator's system sees, load balancer included."""

    if urlparse(base_url).scheme not in {"http", "https"}:
        raise ValueError("GOLIVE_PROBE_BASE_URL must be an http(s) URL")

    def send(path: str, key: str, body: dict) -> Answer:
        request = urllib.request.Request(  # noqa: S310 (an http(s) base URL from settings)
            f"{base_url.rstrip('/')}{path}?{urlencode({'key': key})}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our own base URL)
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, TimeoutError) as exc:
            return Answer(0, {"error": str(exc)}, time.monotonic() - started)
        seconds = time.monotonic() - started
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            parsed = {}
        return Answer(status, parsed if isinstance(parsed, dict) else {}, seconds)

    return send


def default_sender() -> Sender:
    base = getattr(settings, "GOLIVE_PROBE_BASE_URL", "")
    return http_sender(base) if base else inprocess_sender


# --- the probe in the source's dialect ----------------------------------------------------------------


def _set_path(payload: dict, path: str, value) -> None:
    parts = path.split(".")
    node = payload
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _encode(spec, value, when: dt.datetime):
    if not isinstance(spec, dict):
        return value
    if spec.get("divide") not in (None, "", 1) and value is not None:
        value = str(Decimal(str(value)) * Decimal(str(spec["divide"])))
    if spec.get("multiply") not in (None, "", 1) and value is not None:
        value = str(Decimal(str(value)) / Decimal(str(spec["multiply"])))
    fmt = spec.get("format")
    if isinstance(value, dt.datetime) or fmt:
        moment = when
        if fmt == "unix":
            return int(moment.timestamp())
        if fmt == "unix_ms":
            return int(moment.timestamp() * 1000)
        if fmt and fmt != "iso":
            return moment.strftime(fmt)
        return moment.isoformat()
    return value


def probe_payload(*, source: Source, canonical: dict, when: dt.datetime) -> dict:
    """The canonical probe written the way this source writes events (its mapping read backwards)."""
    mapping = source.mapping or {}
    fields = mapping.get("fields") or {}
    types_back = {canon: raw for raw, canon in (mapping.get("event_types") or {}).items() if isinstance(canon, str)}
    payload: dict = {}
    for name, value in canonical.items():
        if name == "type":
            value = types_back.get(value, value)
        if name == "occurred_at":
            value = when
        spec = fields.get(name)
        if spec is None:
            _set_path(payload, name, value.isoformat() if isinstance(value, dt.datetime) else value)
            continue
        path = spec if isinstance(spec, str) else spec.get("path") or name
        if isinstance(path, list):  # several accepted paths: write the first
            path = path[0]
        _set_path(payload, path, _encode(spec, value, when))
    return payload


# --- checks -------------------------------------------------------------------------------------------


def _result(check: str, title: str, passed: bool, detail: str, measured=None) -> dict:
    return {"check": check, "title": title, "passed": passed, "detail": detail, "measured": measured}


def busiest_hour(*, source: Source, days: int = 30) -> int:
    since = timezone.now() - dt.timedelta(days=days)
    rows = (
        InboundEvent.objects.filter(source=source, received_at__gte=since)
        .annotate(hour=TruncHour("received_at", tzinfo=dt.UTC))
        .values("hour")
        .annotate(n=Count("pk"))
        .aggregate(peak=Max("n"))
    )
    return rows["peak"] or 0


def check_capacity(*, source: Source) -> dict:
    rule = rule_for(source)
    peak = rule.expected_peak_per_hour or busiest_hour(source=source)
    needed = (Decimal(peak * PEAK_FACTOR) / 3600).quantize(Decimal("0.01"))
    sustained = sustained_events_per_second()
    origin = "declared" if rule.expected_peak_per_hour else "observed over 30 days"
    return _result(
        "capacity",
        "5× the daily peak fits the sustained throughput",
        needed <= sustained,
        f"busiest hour {peak} events ({origin}); ×{PEAK_FACTOR} = {needed}/s against {sustained}/s sustained",
        {"peak_per_hour": peak, "needed_per_second": str(needed), "sustained_per_second": str(sustained)},
    )


def _conversion(source: Source, external_id: str) -> ConversionEvent | None:
    return ConversionEvent.objects.filter(source=source, external_id=external_id).first()


def _wait_for(
    source: Source, external_id: str, *, clock: Callable[[], float], sleep: Callable[[float], None]
) -> tuple[ConversionEvent | None, float]:
    started = clock()
    while True:
        event = _conversion(source, external_id)
        elapsed = clock() - started
        if event is not None or elapsed >= VISIBLE_SECONDS:
            return event, elapsed
        sleep(1.0)


def _handled(answer: Answer) -> bool:
    """Answered clearly: accepted, duplicate, or a client error with a problem body. Never a 5xx or silence."""
    if 200 <= answer.status < 300:
        return answer.body.get("status") in {"accepted", "duplicate"}
    return 400 <= answer.status < 500 and bool(answer.body.get("title") or answer.body.get("code"))


def run_probes(
    *,
    source: Source,
    tag: str,
    send: Sender,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict]:
    now = timezone.now()
    path = f"/postback/{source.slug}/"
    customer = f"golive-{tag}"
    base = {"customer_id": customer, "currency": source.brand.currency, "occurred_at": now}
    key_row, raw = api_key_create(name=f"go-live probe {tag}", scope="source", source=source)
    try:
        results = []
        ftd_id = f"golive-{tag}-ftd"
        ftd = probe_payload(
            source=source,
            canonical=base | {"event_id": ftd_id, "type": "ftd", "amount": "25.00", "click_id": f"golive-{tag}"},
            when=now,
        )
        first = send(path, raw, ftd)
        results.append(
            _result(
                "answer_2s",
                "A postback is answered within 2 s",
                200 <= first.status < 300 and first.seconds <= ANSWER_SECONDS,
                f"HTTP {first.status} in {first.seconds:.3f} s",
                {"status": first.status, "seconds": round(first.seconds, 3)},
            )
        )
        event, waited = _wait_for(source, ftd_id, clock=clock, sleep=sleep)
        results.append(
            _result(
                "visible_60s",
                "A test conversion is visible within 60 s",
                event is not None and waited <= VISIBLE_SECONDS,
                f"visible after {waited:.1f} s as event #{event.pk}" if event else f"not visible after {waited:.0f} s",
                {"seconds": round(waited, 1), "event_id": event.pk if event else None},
            )
        )
        again = send(path, raw, ftd)
        count = ConversionEvent.objects.filter(source=source, external_id=ftd_id).count()
        results.append(
            _result(
                "duplicate",
                "A repeated event is answered as a duplicate and counted once",
                again.status == 200 and again.body.get("status") == "duplicate" and count <= 1,
                f"HTTP {again.status} {again.body.get('status', '')!s}; {count} event(s) stored",
                {"status": again.status, "events": count},
            )
        )
        no_click = send(
            path,
            raw,
            probe_payload(
                source=source,
                canonical=base | {"event_id": f"golive-{tag}-noclick", "type": "registration"},
                when=now,
            ),
        )
        results.append(
            _result(
                "missing_click_id",
                "An event without a click id is answered clearly",
                _handled(no_click),
                f"HTTP {no_click.status} {no_click.body.get('status') or no_click.body.get('title', '')}",
                {"status": no_click.status},
            )
        )
        zero_id = f"golive-{tag}-zero"
        zero = send(
            path,
            raw,
            probe_payload(
                source=source,
                canonical=base | {"event_id": zero_id, "type": "deposit", "amount": "0.00"},
                when=now,
            ),
        )
        zero_event = _conversion(source, zero_id) if 200 <= zero.status < 300 else None
        if 200 <= zero.status < 300:
            ok = zero_event is not None and zero_event.amount is not None and zero_event.amount == 0
            detail = f"accepted; stored amount {f'{zero_event.amount:.2f}' if zero_event else 'missing'}"
        else:
            ok = _handled(zero)
            detail = f"HTTP {zero.status} {zero.body.get('title', '')}"
        results.append(
            _result("zero_value", "A zero-value deposit is kept as zero or rejected with a reason", ok, detail)
        )
        return results
    finally:
        api_key_revoke(key=key_row)


def golive_run_start(*, source: Source, by=None) -> GoLiveRun:
    return GoLiveRun.objects.create(source=source, started_at=timezone.now(), created_by=by)


def golive_run_execute(
    *, run_id: int, send: Sender | None = None, clock=time.monotonic, sleep=time.sleep
) -> GoLiveRun | None:
    """Run the checklist for a started run and store its results (a finished run is left as it is)."""
    run = GoLiveRun.objects.select_related("source__brand").filter(pk=run_id, finished_at__isnull=True).first()
    if run is None:
        return None
    source = run.source
    if source.test_mode:
        results = run_probes(source=source, tag=str(run.pk), send=send or default_sender(), clock=clock, sleep=sleep)
    else:
        results = [
            _result(
                "test_mode",
                "Probes run against a source in test mode",
                False,
                "Switch the source to test mode to let the platform send its probe events (they pay nothing).",
            )
        ]
    results.append(check_capacity(source=source))
    GoLiveRun.objects.filter(pk=run.pk, finished_at__isnull=True).update(
        results=results, passed=all(r["passed"] for r in results), finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run
