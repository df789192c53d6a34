"""Fixtures of the fault tests: a private Redis, the test database's URL for the platform's processes, and a
`deployment` that starts gunicorn, workers and beat as subprocesses and stops them all at the end."""

from pathlib import Path

import pytest

from reliability.processes import Beat, Gunicorn, RedisServer, Worker, platform_env


def _url(settings_dict: dict, name: str | None = None) -> str:
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}" if password else user
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{name or settings_dict['NAME']}"


@pytest.fixture
def database_url(transactional_db) -> str:
    """The test database, for the platform's processes (committed rows only: the test is transactional)."""
    from django.db import connection

    return _url(connection.settings_dict)


@pytest.fixture
def private_redis():
    with RedisServer() as server:
        yield server


class Deployment:
    """The platform's processes of one test; each started one is stopped at the end."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.services = []
        self.env: dict[str, str] = {}

    def configure(self, *, database_url: str, redis_url: str, **extra: str) -> None:
        self.env = platform_env(database_url=database_url, redis_url=redis_url, **extra)

    def gunicorn(self, **options) -> Gunicorn:
        web = Gunicorn(self.env, self.workdir / "gunicorn.log", **options)
        self.services.append(web.start())
        return web.wait_ready()

    def worker(self, name: str = "w1", **options) -> Worker:
        worker = Worker(self.env, self.workdir / f"worker-{name}.log", hostname=name, **options)
        self.services.append(worker.start())
        return worker.wait_ready()

    def beat(self) -> Beat:
        beat = Beat(self.env, self.workdir / "beat.log")
        self.services.append(beat.start())
        return beat

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ({s.log.name}) ---\n{s.log_tail()}" for s in self.services)

    def stop(self) -> None:
        for service in self.services:  # all at once: each one's shutdown overlaps the others'
            service.terminate()
        for service in reversed(self.services):
            service.stop()


@pytest.fixture
def deployment(tmp_path, request):
    stack = Deployment(tmp_path)
    yield stack
    failed = getattr(request.node, "rep_call", None)
    stack.stop()
    if failed is not None and failed.failed:
        print(stack.logs())


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
