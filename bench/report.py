"""Turning wrk runs into the table and the JSON result: medians over rounds and the ratio to the ceiling."""

import statistics
from dataclasses import dataclass, field

from .wrk import WrkResult

CEILING = "ceiling"


@dataclass
class ScenarioOutcome:
    """Everything measured for one scenario across the rounds of one run."""

    name: str
    runs: list[WrkResult] = field(default_factory=list)
    units_per_request: int = 1
    unit: str = "requests"
    expect_status: tuple[int, ...] = (200,)
    units_in_body: bool = False  # units were counted in the answers' bodies (RequestSpec.unit_pattern)
    stored_per_s: list[float] = field(default_factory=list)
    # CPU milliseconds per request, read from /proc: gunicorn (master and workers), PostgreSQL backends.
    app_cpu_ms: list[float] = field(default_factory=list)
    db_cpu_ms: list[float] = field(default_factory=list)
    target_ratio: float | None = None
    target_units_per_s: float | None = None
    unavailable: str = ""  # why it was not measured (the endpoint is not there yet, …)
    probe: str = ""  # the status and start of the body of the single request sent before the load
    note: str = ""

    def median(self, attr: str) -> float | None:
        """Median of a latency over the runs that completed requests (an empty run has no latency)."""
        values = [getattr(r, attr) for r in self.runs if r.requests]
        return statistics.median(values) if values else None

    @property
    def requests_per_s(self) -> float | None:
        values = [r.requests_per_s for r in self.runs]
        return statistics.median(values) if values else None

    def _ok(self, run: WrkResult) -> int:
        """Answers with an expected status (without a status breakdown: those wrk did not count as errors)."""
        if run.statuses:
            return sum(n for status, n in run.statuses.items() if status in self.expect_status)
        return run.requests - run.non_2xx_3xx

    def _units(self, run: WrkResult) -> int:
        if self.units_in_body and run.units_counted is not None:
            return run.units_counted
        return self._ok(run) * self.units_per_request

    @property
    def units_per_s(self) -> float | None:
        """Units (events, …) accepted per second: answers with an unexpected status carry none."""
        values = [self._units(r) / r.duration_s for r in self.runs if r.duration_s]
        return statistics.median(values) if values else None

    @property
    def unexpected(self) -> int:
        """Answers whose status is not one the scenario expects (a 200 where a 302 was due, a 429, …)."""
        return sum(r.requests - self._ok(r) for r in self.runs)

    @property
    def statuses(self) -> dict[int, int]:
        total: dict[int, int] = {}
        for run in self.runs:
            for status, n in run.statuses.items():
                total[status] = total.get(status, 0) + n
        return dict(sorted(total.items()))

    @property
    def cpu_ms(self) -> float | None:
        """Server CPU per request (gunicorn + PostgreSQL): unlike requests/s, barely moved by other load."""
        values = [a + d for a, d in zip(self.app_cpu_ms, self.db_cpu_ms, strict=True)]
        return statistics.median(values) if values else None

    @property
    def errors(self) -> int:
        return sum(r.socket_errors for r in self.runs)

    @property
    def non_2xx_3xx(self) -> int:
        return sum(r.non_2xx_3xx for r in self.runs)


def ratio(scenario: float | None, ceiling: float | None) -> float | None:
    if scenario is None or not ceiling:
        return None
    return scenario / ceiling


def cpu_ratio(scenario: float | None, ceiling: float | None) -> float | None:
    """The ceiling's CPU per request over the scenario's: the throughput ratio if the server is CPU-bound."""
    if not scenario or ceiling is None:
        return None
    return ceiling / scenario


def ratio_to_ceiling(outcome: ScenarioOutcome, ceiling: ScenarioOutcome | None) -> float | None:
    """The scenario's requests/s over the ceiling's. With one ceiling run per round, the median of the
    per-round ratios: each pairs runs made seconds apart, so a machine whose other load drifts between
    rounds moves both sides of each ratio alike."""
    if ceiling is None:
        return None
    pairs = list(zip(outcome.runs, ceiling.runs, strict=False))
    if pairs and len(outcome.runs) == len(ceiling.runs) and all(c.requests_per_s for _, c in pairs):
        return statistics.median(s.requests_per_s / c.requests_per_s for s, c in pairs)
    return ratio(outcome.requests_per_s, ceiling.requests_per_s)


def verdict(outcome: ScenarioOutcome, ceiling: ScenarioOutcome | None) -> str:
    """'met', 'missed' or '' (no target, or nothing measured)."""
    checks = []
    r = ratio_to_ceiling(outcome, ceiling)
    if outcome.target_ratio is not None and r is not None:
        checks.append(r >= outcome.target_ratio)
    if outcome.target_units_per_s is not None and outcome.units_per_s is not None:
        checks.append(outcome.units_per_s >= outcome.target_units_per_s)
    if not checks:
        return ""
    if outcome.errors or outcome.unexpected:
        return "missed"
    return "met" if all(checks) else "missed"


def _target_text(outcome: ScenarioOutcome) -> str:
    parts = []
    if outcome.target_ratio is not None:
        parts.append(f">={outcome.target_ratio:.0%} ceiling")
    if outcome.target_units_per_s is not None:
        parts.append(f">={outcome.target_units_per_s:,.0f} {outcome.unit}/s")
    return ", ".join(parts)


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


HEADERS = (
    "scenario", "req/s", "p50 ms", "p99 ms", "errors", "non-2xx/3xx", "unexpected", "vs ceiling",
    "cpu ms/req", "cpu vs ceiling", "units/s", "target",
)  # fmt: skip
TEXT_COLUMNS = (0, len(HEADERS) - 1)


def table_rows(outcomes: list[ScenarioOutcome]) -> list[tuple[str, ...]]:
    ceiling = next((o for o in outcomes if o.name == CEILING), None)
    ceiling_cpu = ceiling.cpu_ms if ceiling else None
    rows = []
    for o in outcomes:
        if o.unavailable:
            rows.append((o.name, "unavailable", *[""] * (len(HEADERS) - 3), o.unavailable))
            continue
        r = ratio_to_ceiling(o, ceiling)
        units = f"{o.units_per_s:,.0f} {o.unit}" if o.units_per_request != 1 and o.units_per_s is not None else ""
        target = _target_text(o)
        if target:
            target = f"{target}: {verdict(o, ceiling) or 'n/a'}"
        rows.append(
            (
                o.name,
                _num(o.requests_per_s, ",.0f" if (o.requests_per_s or 0) >= 100 else ",.1f"),
                _num(o.median("p50_ms"), ".2f"),
                _num(o.median("p99_ms"), ".2f"),
                str(o.errors),
                str(o.non_2xx_3xx),
                str(o.unexpected),
                "-" if r is None else f"{r:.0%}",
                _num(o.cpu_ms, ".2f"),
                _num(cpu_ratio(o.cpu_ms, ceiling_cpu), ".0%"),
                units,
                target,
            )
        )
    return rows


def format_table(outcomes: list[ScenarioOutcome]) -> str:
    rows = [HEADERS, *table_rows(outcomes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i in TEXT_COLUMNS else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def outcome_json(outcome: ScenarioOutcome, ceiling: ScenarioOutcome) -> dict:
    r = ratio_to_ceiling(outcome, ceiling)
    return {
        "name": outcome.name,
        "unavailable": outcome.unavailable or None,
        "probe": outcome.probe,
        "note": outcome.note,
        "requests_per_s": outcome.requests_per_s,
        "p50_ms": outcome.median("p50_ms"),
        "p99_ms": outcome.median("p99_ms"),
        "errors": outcome.errors,
        "non_2xx_3xx": outcome.non_2xx_3xx,
        "unexpected_status": outcome.unexpected,
        "expect_status": list(outcome.expect_status),
        "statuses": {str(k): v for k, v in outcome.statuses.items()},
        "ratio_to_ceiling": r,
        "app_cpu_ms_per_request": statistics.median(outcome.app_cpu_ms) if outcome.app_cpu_ms else None,
        "db_cpu_ms_per_request": statistics.median(outcome.db_cpu_ms) if outcome.db_cpu_ms else None,
        "cpu_ratio_to_ceiling": cpu_ratio(outcome.cpu_ms, ceiling.cpu_ms),
        "unit": outcome.unit,
        "units_per_request": outcome.units_per_request,
        "units_per_s": outcome.units_per_s,
        "stored_rows_per_s": statistics.median(outcome.stored_per_s) if outcome.stored_per_s else None,
        "target_ratio": outcome.target_ratio,
        "target_units_per_s": outcome.target_units_per_s,
        "verdict": verdict(outcome, ceiling) or None,
        "runs": [run.as_dict() for run in outcome.runs],
    }
