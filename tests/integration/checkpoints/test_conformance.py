"""LangGraph's checkpointer conformance suite (langgraph-checkpoint-conformance)
against DjangoCheckpointSaver, one test per capability, base and extended.

A capability the saver does not implement (its async method not overridden)
fails here too, not only a broken one. The saver's async methods run its sync
ones on another thread, which does not see a test transaction: hence
`transactional_db`.
"""

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES, Capability

from checkpoints.saver import DjangoCheckpointSaver


@pytest.mark.parametrize("capability", sorted(c.value for c in ALL_CAPABILITIES))
async def test_capability(capability, run_sync):
    @checkpointer_test(name="DjangoCheckpointSaver")
    async def django_saver():
        yield DjangoCheckpointSaver(run_sync=run_sync)

    report = await validate(django_saver, capabilities={capability})
    result = report.results[capability]
    assert result.detected, f"{capability} is not implemented"
    assert result.passed is True, "\n".join(result.failures)
    assert result.tests_passed > 0 and result.tests_failed == 0


async def test_default_run_sync(transactional_db):
    """The same suite's get_tuple capability with the default runner
    (asgiref's sync_to_async, thread-sensitive)."""

    @checkpointer_test(name="DjangoCheckpointSaver, default run_sync")
    async def django_saver():
        yield DjangoCheckpointSaver()

    try:
        report = await validate(django_saver, capabilities={Capability.GET_TUPLE.value})
    finally:
        await sync_to_async(connections.close_all, thread_sensitive=True)()
    assert report.results["get_tuple"].passed is True, report.results["get_tuple"].failures
