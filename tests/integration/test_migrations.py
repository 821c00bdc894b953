"""Upgrading a database from before accounts: its threads go to the local demo user."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from runs.models import Thread
from runs.services.accounts import LOCAL_DEMO_USERNAME

BEFORE = [("runs", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_ownerless_threads_go_to_the_local_demo_user():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("runs", "Thread")
    thread = old.objects.create(metadata={"from": "before accounts"})

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    owner = Thread.objects.get(pk=thread.pk).owner
    assert owner.username == LOCAL_DEMO_USERNAME and not owner.has_usable_password()
