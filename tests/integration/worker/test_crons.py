"""Executors fire due crons and execute their runs: two executors on one
database, one cron long overdue, one run."""

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from runs.models import CronFiring, Run, RunStatus
from runs.services import crons
from runs.worker.executor import Executor
from tests.conftest import FAST, make_thread, orm, wait_for, wait_status

pytestmark = pytest.mark.django_db(transaction=True)


def overdue_cron(user):
    thread = make_thread(user)
    cron = crons.create_cron(
        actor=user,
        assistant_id="agent",
        schedule="0 0 1 1 *",  # yearly: its next tick, after this one, is far off
        thread_id=thread.pk,
        payload={"input": {"messages": ["happy new year"]}, "config": FAST},
        now=timezone.now() - timedelta(days=400),
    )
    return thread, cron


async def test_two_executors_fire_an_overdue_cron_once_and_run_it(user, executor):
    thread, cron = await orm(overdue_cron)(user)
    other = Executor(worker_id="other-worker")
    await other.start()
    try:
        # Both poll at once (each on its own database threads), racing for the tick.
        await asyncio.gather(executor.fire_crons(), other.fire_crons())

        async def fired():
            return await orm(Run.objects.filter(thread_id=thread.pk).first)()

        run = await wait_for(fired)
        await wait_status(run.pk, RunStatus.SUCCESS, timeout=15)
    finally:
        await other.stop()
    assert await orm(Run.objects.filter(thread_id=thread.pk).count)() == 1
    assert await orm(CronFiring.objects.filter(cron_id=cron.pk).count)() == 1
    await orm(cron.refresh_from_db)()
    assert cron.next_run_date > timezone.now()
