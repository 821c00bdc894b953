"""Production mode: PostgreSQL + Redis, several Daphne processes (no embedded
executor) and several `runworker_runs` worker processes, all on 127.0.0.1.

These tests run when DATABASE_URL points to PostgreSQL and REDIS_URL is set
(`.ci/run` sets both in its second pass). With neither set (the embedded
pass) they skip; under CI, one set without the other, a database that is
not PostgreSQL or a service that does not answer is a failure, not a skip.
"""

import os
from dataclasses import dataclass

import httpx
import pytest
from django.db import connection

from tests.live_server import LiveServer, Worker

# Short leases so a killed worker's run is recovered within seconds; the
# heartbeat (the database fallback for cancellation) is deliberately slow so
# tests can tell the channel-layer signal from it.
CLUSTER_ENV = {
    "RUNS_EMBEDDED_WORKER": "false",
    "RUNS_LEASE_SECONDS": "3",
    "RUNS_HEARTBEAT_SECONDS": "1",
    "RUNS_POLL_SECONDS": "1",
    "LOG_LEVEL": "WARNING",
}


def require_services():
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
        message = "production-mode tests need PostgreSQL and Redis: " + "; ".join(problems)
        embedded_run = not os.environ.get("DATABASE_URL") and not os.environ.get("REDIS_URL")
        if os.environ.get("CI") and not embedded_run:
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Cluster:
    servers: list[LiveServer]
    workers: list[Worker]

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]


@pytest.fixture
def cluster(transactional_db):
    require_services()
    servers, workers = [], []
    try:
        servers = [LiveServer(env=CLUSTER_ENV) for _ in range(2)]
        workers = [Worker(f"w{i}", env=CLUSTER_ENV) for i in range(2)]
        for server in servers:  # open each server's database connection pool, caches
            httpx.get(f"{server.url}/ok", timeout=10).raise_for_status()
        yield Cluster(servers, workers)
    finally:
        for process in [*workers, *servers]:
            process.stop()
