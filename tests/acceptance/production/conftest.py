"""Production mode: PostgreSQL + Redis, several Daphne processes (no embedded
executor) and several `runworker_runs` worker processes, all on 127.0.0.1.

These tests run when DATABASE_URL points to PostgreSQL and REDIS_URL is set
(`.ci/run` sets both in its second pass). Locally, without them, they skip;
when the CI variable is set, a missing variable, a database that is not
PostgreSQL or a service that does not answer is a failure, not a skip (the
embedded pass of `.ci/run` leaves this directory out).
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import httpx
import pytest
from django.db import connection

from tests.live_server import ROOT, LiveServer, Worker, free_port

# Short leases so a killed worker's run is recovered within seconds; the
# heartbeat (the database fallback for cancellation) is deliberately slow
# compared with a token so tests can tell the channel-layer signal from it.
CLUSTER_ENV = {
    "RUNS_EMBEDDED_WORKER": "false",
    "RUNS_LEASE_SECONDS": "3",
    "RUNS_HEARTBEAT_SECONDS": "1",
    "RUNS_POLL_SECONDS": "1",
    "RUNS_SHUTDOWN_GRACE_SECONDS": "1",
    "LOG_LEVEL": "WARNING",
}


def missing(problems: list[str]) -> None:
    message = "production-mode tests need PostgreSQL and Redis: " + "; ".join(problems)
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_services() -> None:
    problems = []
    if connection.vendor != "postgresql":
        problems.append("DATABASE_URL does not point to PostgreSQL")
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        problems.append("REDIS_URL is not set")
    else:
        import redis

        try:
            redis.Redis.from_url(redis_url, socket_timeout=2).ping()
        except Exception as error:  # noqa: BLE001
            problems.append(f"Redis at {redis_url} is unreachable: {error}")
    if problems:
        missing(problems)


@dataclass
class Cluster:
    servers: list[LiveServer] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def worker(self, worker_id: str) -> Worker:
        return next(w for w in self.workers if w.worker_id == worker_id)

    def stop(self) -> None:
        for process in [*self.workers, *self.servers]:
            process.stop()


def start_cluster(cluster: Cluster, servers: int, workers: int, env: dict) -> Cluster:
    cluster.servers += [LiveServer(env=env) for _ in range(servers)]
    cluster.workers += [Worker(f"w{i}", env=env) for i in range(workers)]
    for server in cluster.servers:  # open each server's database connection, caches
        httpx.get(f"{server.url}/ok", timeout=10).raise_for_status()
    return cluster


@pytest.fixture
def cluster(transactional_db):
    """2 Daphne processes and 2 workers on the test database and REDIS_URL."""
    require_services()
    running = Cluster()
    try:
        yield start_cluster(running, 2, 2, CLUSTER_ENV)
    finally:
        running.stop()


class PrivateRedis:
    """A redis-server of our own on a free 127.0.0.1 port, without persistence,
    so a test can restart it without disturbing anyone using the shared one."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="doubletext-redis-")
        self.log_path = ROOT / "test-artifacts" / f"redis-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no", "--dir", self.dir),
                *("--logfile", str(self.log_path)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
                return
            except Exception as error:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start: {self.log_path}") from error
                time.sleep(0.05)

    def stop(self) -> None:
        """Like `redis-cli shutdown nosave`: everything in it is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_redis(transactional_db):
    require_services()
    if shutil.which("redis-server") is None:
        missing(["redis-server is not installed (needed to restart a private Redis)"])
    server = PrivateRedis()
    try:
        yield server
    finally:
        server.close()


async def sse_events(http, url, limit=2000):
    """(event, data) pairs of an SSE stream, through its end (bounded)."""
    event = None
    async with http.stream("GET", url, params={"stream_mode": "messages-tuple"}) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                yield event, json.loads(line[len("data: ") :])
                limit -= 1
                if event == "end" or limit <= 0:
                    return
