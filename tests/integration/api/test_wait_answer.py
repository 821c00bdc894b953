"""What `wait` and `join` answer once the run ended: the thread's values."""

import json

import pytest

from runs.api.responses import JSONText
from runs.api.sse import final_state
from runs.models import Thread
from tests.conftest import make_thread, orm

pytestmark = pytest.mark.django_db(transaction=True)

VALUES = {"messages": [{"type": "human", "content": "é ✓"}, {"type": "ai", "content": "hi"}]}


async def test_the_values_are_sent_as_they_are_stored():
    """Not decoded and encoded again: the whole conversation, every wait."""
    thread = await orm(make_thread)()
    await orm(lambda: Thread.objects.filter(pk=thread.pk).update(values=VALUES))()
    answer = await final_state(thread.pk)
    assert type(answer) is JSONText
    assert json.loads(answer) == VALUES


async def test_the_interrupts_it_stopped_at_are_added():
    thread = await orm(make_thread)()
    interrupts = {"task-1": [{"id": "i1", "value": {"question": "approve?"}}]}
    await orm(
        lambda: Thread.objects.filter(pk=thread.pk).update(values=VALUES, interrupts=interrupts)
    )()
    answer = await final_state(thread.pk)
    assert answer == {
        **VALUES,
        "__interrupt__": [{"id": "i1", "value": {"question": "approve?"}, "response_schema": None}],
    }


async def test_a_thread_gone_has_no_values():
    assert await final_state("00000000-0000-0000-0000-000000000000") == {}
