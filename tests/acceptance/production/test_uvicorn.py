"""A deployment whose servers are uvicorn and Daphne side by side (the README
offers both): a double-text created through one runs on the workers and
stops the run another server started, with each strategy."""

import pytest

from tests.acceptance.graphs import scenarios
from tests.acceptance.production.conftest import (
    CLUSTER_ENV,
    Cluster,
    require_services,
    start_cluster,
)
from tests.live_server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mixed_cluster(transactional_db):
    require_services()
    env = {**CLUSTER_ENV, "LANGGRAPH_CONFIG": str(scenarios.CONFIG)}
    running = Cluster()
    try:
        running.servers.append(LiveServer(env=env, server="uvicorn"))
        yield start_cluster(running, 1, 2, env)  # plus one Daphne, two workers
    finally:
        running.stop()


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_a_double_text_through_uvicorn_stops_a_run_started_through_daphne(
    mixed_cluster, strategy
):
    uvicorn, daphne = mixed_cluster.urls
    result = await scenarios.double_text([daphne, uvicorn], strategy)
    scenarios.check(strategy, result)
