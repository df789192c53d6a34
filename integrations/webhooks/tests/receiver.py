"""A real local HTTP receiver for delivery tests, on 127.0.0.1 (ports 8070-8079, else any free port).

Each request is answered by the next scripted behaviour (the last one repeats): a status code with an optional
body and headers, `"close"` (drop the connection unanswered), `"ok-then-drop"` (a 200, then the kept-alive connection is
dropped), `"hang"` (answer nothing until the test ends),
or `"huge"` (a 200 with a body far larger than the read cap).
"""

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HUGE_BODY_BYTES = 8 * 1024 * 1024


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes
    client_port: int = 0


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    script: list = field(default_factory=lambda: [200])
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def next_behaviour(self):
        index = min(len(self.requests) - 1, len(self.script) - 1)
        return self.script[index]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver.requests.append(Received(self.command, self.path, headers, body, self.client_address[1]))
            behaviour = receiver.next_behaviour()
            if behaviour == "close":
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if behaviour == "hang":
                receiver.release.wait(10)
                self.close_connection = True
                return
            if behaviour == "ok-then-drop":
                # Answer as if the connection stays open, then drop it: the client's kept connection goes stale.
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if behaviour == "huge":
                self.send_response(200)
                self.send_header("Content-Length", str(HUGE_BODY_BYTES))
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    for _ in range(HUGE_BODY_BYTES // len(chunk)):
                        self.wfile.write(chunk)
                except OSError:
                    pass
                self.close_connection = True
                return
            status, text, headers = behaviour if isinstance(behaviour, tuple) else (behaviour, "ok", {})
            payload = text.encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _handle

    return Handler


class _Server(ThreadingHTTPServer):
    # Many deliveries connect at once (a thread pool per worker): the default listen backlog of 5
    # would drop connections on a loaded machine and turn a test of the sender into one of the receiver.
    request_queue_size = 256
    daemon_threads = True


def start_receiver() -> Receiver:
    last_error = None
    for port in [*range(8070, 8080), 0]:
        try:
            server = _Server(("127.0.0.1", port), None)
            break
        except OSError as exc:
            last_error = exc
    else:
        raise last_error
    server.daemon_threads = True
    receiver = Receiver(server=server)
    server.RequestHandlerClass = _handler(receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def stop_receiver(receiver: Receiver) -> None:
    receiver.release.set()
    receiver.server.shutdown()
    receiver.server.server_close()
