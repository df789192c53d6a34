"""A stream of postbacks as an operator's system sends them: each event until it is accepted (202) or known
(200 duplicate), a 503 or a dropped connection retried after a pause, every answer recorded."""

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

from reliability.processes import call


@dataclass
class PostbackStream:
    base_url: str
    slug: str
    key: str
    prefix: str = "ev"
    rate_per_s: float = 25.0
    retry_pause_s: float = 0.5
    answers: Counter = field(default_factory=Counter)
    accepted: dict[str, str] = field(default_factory=dict)  # event id -> inbound id of the 202 or 200
    unexpected: list = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def url(self, event_id: str, customer: str) -> str:
        query = urlencode({
            "key": self.key, "type": "ftd", "event_id": event_id, "customer_id": customer, "amount": "50.00",
            "currency": "EUR", "occurred_at": "2026-11-28T10:00:00+00:00",
        })  # fmt: skip
        return f"{self.base_url}/postback/{self.slug}/?{query}"

    def send_until_known(self, event_id: str, customer: str, deadline_s: float = 60.0) -> None:
        until = time.monotonic() + deadline_s
        while time.monotonic() < until:
            try:
                status, headers, body = call("GET", self.url(event_id, customer), timeout=10)
            except OSError as exc:
                self.answers[type(exc).__name__] += 1
                time.sleep(self.retry_pause_s)
                continue
            self.answers[status] += 1
            if status in (200, 202):
                self.accepted.setdefault(event_id, body["id"])
                return
            if status == 503 and headers.get("content-type", "").startswith("application/problem+json"):
                time.sleep(self.retry_pause_s)
                continue
            self.unexpected.append((event_id, status, body))
            return
        self.unexpected.append((event_id, "gave up", None))

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            started = time.monotonic()
            event_id = f"{self.prefix}-{n}"
            self.sent.append(event_id)
            self.send_until_known(event_id, f"cust-{self.prefix}-{n}")
            if n % 10 == 5:  # an operator that resends an event it already had answered
                self.send_until_known(f"{self.prefix}-{n - 5}", f"cust-{self.prefix}-{n - 5}")
            n += 1
            time.sleep(max(0.0, 1 / self.rate_per_s - (time.monotonic() - started)))

    def start(self) -> "PostbackStream":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=90)
