"""A real webhook receiver on 127.0.0.1: answers each request with the next status of its script (the last one
repeats) and records when each arrived, with its headers and body."""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Arrival:
    at: float  # time.time() when the request was read
    method: str
    path: str
    headers: dict
    body: bytes
    answered: int


@dataclass
class TimedReceiver:
    script: list[int] = field(default_factory=lambda: [200])
    arrivals: list[Arrival] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> "TimedReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.lock:
                    status = receiver.script[min(len(receiver.arrivals), len(receiver.script) - 1)]
                    receiver.arrivals.append(
                        Arrival(time.time(), self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                body, status)
                    )  # fmt: skip
                payload = b"ok" if status < 300 else b"try again"
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self) -> "TimedReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
