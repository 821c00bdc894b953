"""The checkpoints admin: read-only, and a stored messages state shown decoded,
readable and escaped."""

import pytest
from django.urls import reverse
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.serde.types import INTERRUPT
from langgraph.types import Interrupt, Send

from checkpoints.models import Checkpoint
from checkpoints.saver import DjangoCheckpointSaver

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "a@example.com", "pw-long-enough")
    client.force_login(user)
    return client


@pytest.fixture
def stored():
    saver = DjangoCheckpointSaver()
    messages = [
        HumanMessage(f"look this up {SCRIPT}", id="m1"),
        AIMessage(
            "",
            id="m2",
            tool_calls=[{"name": "web_search", "args": {"query": "django admin"}, "id": "call-7"}],
        ),
        ToolMessage("3 results", tool_call_id="call-7", id="m3"),
    ]
    values = {"messages": messages, "todo": Send("worker", {"item": 1}), "count": 3}
    versions = {channel: saver.get_next_version(None) for channel in values}
    checkpoint = {**empty_checkpoint(), "channel_values": values, "channel_versions": versions}
    config = saver.put(
        {"configurable": {"thread_id": "thread-admin", "checkpoint_ns": ""}},
        checkpoint,
        {"source": "loop", "step": 2, "parents": {}, "run_id": "run-admin", "note": SCRIPT},
        versions,
    )
    saver.put_writes(
        config, [(INTERRUPT, [Interrupt(value={"question": f"ok? {SCRIPT}"}, id="i1")])], "task-9"
    )
    return Checkpoint.objects.get(checkpoint_id=config["configurable"]["checkpoint_id"])


def test_detail_page_shows_the_state_decoded_and_escaped(staff_client, stored):
    response = staff_client.get(reverse("admin:checkpoints_checkpoint_change", args=[stored.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert SCRIPT not in body
    assert "look this up &lt;script&gt;alert(1)&lt;/script&gt;" in body
    # Messages: their type, content and tool calls.
    for text in ("<strong>human</strong>", "<strong>ai</strong>", "<strong>tool</strong>"):
        assert text in body
    assert "&quot;name&quot;: &quot;web_search&quot;" in body
    assert "&quot;query&quot;: &quot;django admin&quot;" in body
    assert "tool_call_id: call-7" in body and "3 results" in body
    # Other values, the metadata and the pending writes: pretty JSON.
    assert "&quot;node&quot;: &quot;worker&quot;" in body
    assert "&quot;run_id&quot;: &quot;run-admin&quot;" in body
    assert "&quot;note&quot;: &quot;&lt;script&gt;" in body
    assert "__interrupt__" in body and "task-9" in body
    assert "&quot;question&quot;: &quot;ok? &lt;script&gt;" in body
    # Read-only: no save or delete button.
    assert 'name="_save"' not in body and "deletelink" not in body


def test_list_search_and_filter(staff_client, stored):
    url = reverse("admin:checkpoints_checkpoint_changelist")
    body = staff_client.get(url).content.decode()
    assert stored.checkpoint_id in body and "run-admin" in body
    for query in ("?q=thread-admin", "?q=run-admin", "?source=loop"):
        body = staff_client.get(url + query).content.decode()
        assert stored.checkpoint_id in body, query
    for query in ("?q=thread", "?source=input"):
        body = staff_client.get(url + query).content.decode()
        assert stored.checkpoint_id not in body, query


def test_nothing_can_be_added_changed_or_deleted(staff_client, stored):
    change = reverse("admin:checkpoints_checkpoint_change", args=[stored.pk])
    assert staff_client.get(reverse("admin:checkpoints_checkpoint_add")).status_code == 403
    assert staff_client.post(change, {"thread_id": "other"}).status_code == 403
    delete = reverse("admin:checkpoints_checkpoint_delete", args=[stored.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:checkpoints_checkpoint_changelist")
    staff_client.post(changelist, {"action": "delete_selected", "_selected_action": [stored.pk]})
    assert Checkpoint.objects.filter(pk=stored.pk, thread_id="thread-admin").exists()
