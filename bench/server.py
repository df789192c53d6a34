"""The system under test: a throwaway PostgreSQL database and a gunicorn serving config.wsgi.

Both are owned by the harness and undone by it: gunicorn runs in its own session so a Ctrl+C in the
terminal reaches only the harness, which then stops gunicorn (TERM, then KILL of its process group)
and drops the database.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent


def database_recreate(*, server_url: str, name: str) -> None:
    """Drop (closing its sessions) and create database `name` on the server at `server_url`."""
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_drop(*, server_url: str, name: str) -> None:
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_release(*, server_url: str, name: str, keep: bool) -> None:
    """After a run: close this process's connections, then drop the run's database unless it is kept."""
    try:
        from django.db import connections

        connections.close_all()
    except Exception:
        pass
    if keep:
        return
    try:
        database_drop(server_url=server_url, name=name)
    except Exception as exc:
        print(f"dropping database {name}: {exc}", file=sys.stderr)


def django_standalone(*, database_url: str, broker_url: str) -> None:
    """Set Django up in this process on `database_url`, tasks queued on `broker_url` (never inline), and
    migrate: what the stand-alone benchmark scripts share."""
    import os
    import sys

    os.environ["DATABASE_URL"] = database_url
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    os.environ["CELERY_BROKER_URL"] = broker_url
    os.environ.setdefault("CACHE_URL", "locmemcache://")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def gunicorn_binary() -> str:
    candidate = Path(sys.executable).with_name("gunicorn")
    return str(candidate) if candidate.exists() else "gunicorn"


class Gunicorn:
    """A gunicorn master for config.wsgi on `bind`; use as a context manager."""

    def __init__(self, *, bind: str, env: dict[str, str], workers: int, worker_class: str, threads: int, log: Path):
        self.bind = bind
        self.env = env
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def argv(self) -> list[str]:
        argv = [
            gunicorn_binary(),
            "config.wsgi:application",
            f"--bind={self.bind}",
            f"--workers={self.workers}",
            f"--worker-class={self.worker_class}",
            "--backlog=2048",
            # Import the application once, before forking: workers are ready together and boot costs one import.
            "--preload",
            "--no-control-socket",
            "--log-level=warning",
            f"--error-logfile={self.log}",
        ]
        if self.worker_class == "gthread":
            argv.append(f"--threads={self.threads}")
        return argv

    def __enter__(self) -> "Gunicorn":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.write_text("")
        self.process = subprocess.Popen(
            self.argv, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, start_new_session=True
        )

    def wait_ready(self, url: str, *, timeout_s: float = 120.0) -> None:
        """Wait until `url` answers anything at all; fail with the error log if gunicorn exits."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer {url} within {timeout_s:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = self.process.pid  # its own session: the process group id is the master's pid
        try:
            os.killpg(pgid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass


def redis_purge_queues(redis_url: str, queues: list[str]) -> int:
    """Empty the Celery queues the run filled (no worker consumes them); returns messages removed."""
    from kombu import Connection

    removed = 0
    with Connection(redis_url) as conn:
        channel = conn.default_channel
        for queue in queues:
            removed += channel.queue_purge(queue) or 0
    return removed


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, user+system CPU ticks) of a live process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    return int(fields[1]), int(fields[11]) + int(fields[12])


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (gunicorn's master and workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))):
            children.setdefault(stat[0], []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds used so far by each live pid in `pids`."""
    out = {}
    for pid in pids:
        if stat := _proc_stat(pid):
            out[pid] = stat[1] / _TICK
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two snapshots; a process born in between counts from zero."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def backend_pids(*, server_url: str, name: str) -> list[int]:
    """PostgreSQL server processes serving database `name` (this machine only: their CPU is read from /proc)."""
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
        ).fetchall()
    return [row[0] for row in rows]


def wait_idle(root: int, *, below: float = 0.1, interval_s: float = 0.5, timeout_s: float = 120.0) -> float:
    """Wait until gunicorn (the tree under `root`) uses under `below` of one core, so requests that a run
    left in flight (timed out on wrk's side, still served) do not weigh on the next one; returns the wait."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        pids = process_tree(root)
        before = cpu_seconds(pids)
        time.sleep(interval_s)
        if cpu_delta(before, cpu_seconds(pids)) < below * interval_s:
            break
    return time.monotonic() - started
