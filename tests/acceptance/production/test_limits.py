"""Per-user limits hold across server processes: the counters live in Redis."""

import uuid

import httpx
import pytest

from runs.models import Run, UserAPIKey
from tests.acceptance.production.conftest import (
    CLUSTER_ENV,
    Cluster,
    require_services,
    start_cluster,
)
from tests.conftest import make_user, orm

pytestmark = pytest.mark.django_db(transaction=True)

RUN = {"assistant_id": "agent", "input": {"messages": ["hi"]}}


@pytest.fixture
def limited_cluster(transactional_db):
    """2 Daphne processes sharing a limit of 4 runs a minute per user."""
    require_services()
    running = Cluster()
    env = {
        **CLUSTER_ENV,
        "RUNS_CREATE_RATE": "4/min",
        "CACHE_KEY_PREFIX": f"test-limits-{uuid.uuid4().hex}",
    }
    try:
        yield start_cluster(running, 2, 0, env)
    finally:
        running.stop()


async def test_the_run_creation_limit_is_shared_by_every_server(limited_cluster):
    _, key = await orm(UserAPIKey.objects.create_key)(user=await orm(make_user)("alice"), name="t")
    statuses = []
    for i in range(6):  # alternate between the two servers
        url = limited_cluster.urls[i % 2]
        async with httpx.AsyncClient(base_url=url, headers={"x-api-key": key}) as api:
            statuses.append((await api.post("/runs", json=RUN)).status_code)
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert await orm(Run.objects.count)() == 4
