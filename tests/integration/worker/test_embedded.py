"""The real server starts on 127.0.0.1 and runs runs with its embedded executor."""

import httpx
import pytest

from runs.models import RunStatus
from runs.services import runs as run_service
from runs.services.actors import SYSTEM
from tests.conftest import FAST, make_thread, orm, wait_status

pytestmark = pytest.mark.django_db(transaction=True)


async def test_server_serves_admin_and_executes_runs(live_server_url):
    async with httpx.AsyncClient(base_url=live_server_url) as client:
        response = await client.get("/admin/login/")
        assert response.status_code == 200
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(
        thread.pk, input={"messages": ["hello"]}, config=FAST, actor=SYSTEM
    )
    # The wake-up went to this process's channel layer, not the server's: the
    # server's executor finds the run by polling.
    await wait_status(run.pk, RunStatus.SUCCESS, timeout=15)
