"""The platform's processes and the services under them, started for a fault test and stopped by it.

Each fault test owns what it breaks: a Redis server or a PostgreSQL cluster on a free private port (never the
shared ones), and the platform's own processes (gunicorn, a Celery worker, beat) as subprocesses pointed at
them, started the way an operator starts them (README "Production"). Everything here is stopped by the
context managers or `stop()`, by process id and process group, never by name.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The worker of the deployment the issue describes: one process, every queue.
WORKER_QUEUES = "celery,default,ingest,commissions,delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return condition()


def _stop_group(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
    """Stop a process started in its own session, and whatever it started (its process group)."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


class RedisServer:
    """A private redis-server on 127.0.0.1:<free port>, no persistence: a stop loses what it held, as a
    restarted cache or broker without disk would."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        argv = [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        if not wait_until(lambda: port_open(self.port), 10):
            raise RuntimeError(f"redis-server did not listen on {self.port}")
        return self

    def stop(self) -> None:
        """Stopped hard (SIGKILL): what a crash or a lost host looks like to its clients."""
        _stop_group(self.process, signal.SIGKILL)
        self.process = None
        wait_until(lambda: not port_open(self.port), 5)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    return shutil.which(name) or name


class PostgresServer:
    """A private PostgreSQL cluster (initdb into a temporary directory) on 127.0.0.1:<free port>, trust
    authentication for user `postgres`. As root, the server runs as the `postgres` OS user."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="reliability-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, check=check, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> "PostgresServer":
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> "PostgresServer":
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast` disconnects every client and stops, `immediate` is a crash (recovery at the next start)."""
        if (self.data / "postmaster.pid").exists():
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.init().start()

    def __exit__(self, *exc) -> None:
        self.destroy()


def platform_env(*, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of the platform's processes: only what a deployment sets, nothing from the test run."""
    drop = {"DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("PYTEST", "DJANGO"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        WEBHOOKS_ALLOW_PRIVATE_TARGETS="1",
        LOG_LEVEL="WARNING",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONWARNINGS="ignore:No directory at:UserWarning",
    )
    env.update(extra)
    return env


class Service:
    """One platform process (gunicorn, a worker, beat) in its own session, its output in a log file."""

    name = "service"

    def __init__(self, argv: list[str], env: dict[str, str], log: Path):
        self.argv = argv
        self.env = env
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self):
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            self.argv, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        out.close()
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the process (and its children): no shutdown, no acknowledgement, no cleanup."""
        _stop_group(self.process, signal.SIGKILL)

    def stop(self) -> None:
        _stop_group(self.process, signal.SIGTERM)

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM to its process group) without waiting; `stop()` then waits."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Gunicorn(Service):
    name = "gunicorn"

    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 2, threads: int = 4, port: int | None = None):
        self.port = port or free_port()
        argv = [
            str(BIN / "gunicorn"), "config.wsgi:application", f"--bind=127.0.0.1:{self.port}",
            f"--workers={workers}", "--worker-class=gthread", f"--threads={threads}", "--preload",
            "--no-control-socket", "--timeout=30", "--graceful-timeout=5", "--log-level=warning",
        ]  # fmt: skip
        super().__init__(argv, env, log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 90.0) -> "Gunicorn":
        def answers() -> bool:
            if not self.alive():
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            try:
                call("GET", f"{self.url}/healthz", timeout=2)
                return True
            except OSError:
                return False

        if not wait_until(answers, timeout_s, 0.2):
            raise RuntimeError(f"gunicorn did not answer within {timeout_s:.0f}s:\n{self.log_tail()}")
        return self


class Worker(Service):
    """`celery -A config worker -P solo -Q <every queue>`, as the issue's deployment runs it."""

    name = "worker"

    def __init__(self, env: dict[str, str], log: Path, *, queues: str = WORKER_QUEUES, hostname: str = "w1"):
        argv = [
            str(BIN / "celery"), "-A", "config", "worker", "-P", "solo", "-Q", queues, "-l", "info",
            "-n", f"{hostname}@%h", "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        super().__init__(argv, env, log)

    def wait_ready(self, timeout_s: float = 90.0) -> "Worker":
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"worker exited:\n{self.log_tail()}")
            return " ready." in self.log_tail(200)

        if not wait_until(ready, timeout_s, 0.2):
            raise RuntimeError(f"the worker was not ready within {timeout_s:.0f}s:\n{self.log_tail()}")
        return self


class Beat(Service):
    """`celery -A config beat`, its schedule file in a temporary directory."""

    name = "beat"

    def __init__(self, env: dict[str, str], log: Path):
        schedule = log.parent / "celerybeat-schedule"
        argv = [str(BIN / "celery"), "-A", "config", "beat", "-l", "info", "-s", str(schedule)]
        super().__init__(argv, env, log)


def call(method: str, url: str, *, key: str | None = None, body: bytes | dict | None = None, timeout: float = 15.0):
    """One request; returns (status, headers, parsed JSON or raw bytes). Network errors raise OSError."""
    import http.client
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    headers = {"Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()
