"""What a scenario hands the harness: one request shape, replayed by wrk for a fixed time.

`{uid}` anywhere in the path or the body is replaced, per request, by an id unique across the whole
run (run nonce, wrk thread, per-thread counter); a body may hold it many times (`{uid}-0`, `{uid}-1`, …)
so a batch of events gets distinct ids too.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

UID = "{uid}"


@dataclass(frozen=True)
class RequestSpec:
    """One scenario's request and how to judge its answers."""

    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    # Statuses that mean "served as designed"; anything else counts as an error in the report.
    expect_status: tuple[int, ...] = (200,)
    # What one request carries, for throughput in domain terms (1000 events per batch request).
    units_per_request: int = 1
    unit: str = "requests"
    # A Lua pattern counted in every response body: the units actually accepted (per-event statuses
    # inside a 202 batch answer). Without it, each answer with an expected status counts units_per_request.
    unit_pattern: str | None = None
    # Rows the scenario writes, counted before and after the timed run (rows stored per second).
    count_stored: Callable[[], int] | None = None
    # Targets from the issues: a share of the ceiling's requests/s, or units per second.
    target_ratio: float | None = None
    target_units_per_s: float | None = None
    # Only for batch scenarios, whose requests each carry many units: fewer connections than the run's, so
    # that the latency measures serving a batch rather than waiting behind 15 others. Reported in the JSON.
    connections: int | None = None
    note: str = ""

    def render(self, uid: str) -> tuple[str, str | None]:
        """The path and body of one request with `uid` filled in (the probe and the tests use it)."""
        body = self.body.replace(UID, uid) if self.body is not None else None
        return self.path.replace(UID, uid), body
