"""runs.services.assistants: the defaults, a user's assistants and their
versions, who sees which, and what a run of an assistant runs with."""

import datetime
import json
import uuid

import pytest
from django.db import IntegrityError, transaction

from runs.graphs import registry
from runs.models import Assistant, AssistantVersion, Cron, Run, RunStatus, Thread
from runs.services import assistants, crons
from runs.services import runs as run_service
from runs.services.actors import SYSTEM
from runs.services.errors import (
    AssistantNotFound,
    AssistantReadOnly,
    Conflict,
    GraphNotFound,
    InvalidRequest,
    VersionNotFound,
)
from tests.conftest import make_thread, make_user

pytestmark = pytest.mark.django_db

AGENT = registry.assistant_uuid("agent")


@pytest.fixture
def alice():
    return make_user("alice")


@pytest.fixture
def bob():
    return make_user("bob")


def ids(page) -> list[str]:
    return [a["assistant_id"] for a in page.items]


def test_each_graph_has_a_default_assistant_that_nobody_changes(alice):
    found = assistants.search_assistants(actor=alice)
    assert sorted(a["graph_id"] for a in found.items) == ["agent", "hitl"]
    default = assistants.get_assistant("agent", actor=alice)
    assert str(default.pk) == AGENT and default.owner is None
    assert default.metadata == {"created_by": "system"} and default.name == "agent"
    assert assistants.get_assistant(AGENT, actor=alice) == default
    for change in (
        lambda: assistants.update_assistant(AGENT, actor=alice, name="mine"),
        lambda: assistants.set_latest(AGENT, actor=alice, version=1),
        lambda: assistants.delete_assistant("agent", actor=alice),
    ):
        with pytest.raises(AssistantReadOnly):
            change()
    assert [v.version for v in assistants.list_versions(AGENT, actor=alice)] == [1]
    # Found again, not created twice.
    assistants.sync_defaults()
    assert Assistant.objects.filter(owner=None).count() == 2


def test_create_keeps_config_and_context_in_step(alice):
    made = assistants.create_assistant(
        actor=alice, graph_id="agent", context={"reply_words": 3}, name="terse"
    )
    assert made.version == 1 and made.owner == alice
    assert made.context == {"reply_words": 3}
    assert made.config == {"configurable": {"reply_words": 3}}
    other = assistants.create_assistant(
        actor=alice, graph_id="agent", config={"configurable": {"token_delay": 0}}
    )
    assert other.context == {"token_delay": 0} and other.name == "Untitled"
    with pytest.raises(InvalidRequest) as both:
        assistants.create_assistant(
            actor=alice,
            graph_id="agent",
            config={"configurable": {"token_delay": 0}},
            context={"reply_words": 3},
        )
    assert both.value.field == "context"


def test_create_refuses_what_the_graph_refuses(alice):
    with pytest.raises(GraphNotFound):
        assistants.create_assistant(actor=alice, graph_id="nope")
    with pytest.raises(InvalidRequest) as bad:
        assistants.create_assistant(actor=alice, graph_id="agent", context={"reply_words": "x"})
    assert bad.value.field == "context.reply_words"
    with pytest.raises(InvalidRequest) as bad_id:
        assistants.create_assistant(actor=alice, graph_id="agent", assistant_id="not-a-uuid")
    assert bad_id.value.field == "assistant_id"
    assert not Assistant.objects.filter(owner=alice).exists()


def test_create_with_an_id_that_is_taken(alice, bob):
    pk = uuid.uuid4()
    first = assistants.create_assistant(actor=alice, graph_id="agent", assistant_id=pk)
    with pytest.raises(Conflict):
        assistants.create_assistant(actor=alice, graph_id="agent", assistant_id=pk)
    again = assistants.create_assistant(
        actor=alice, graph_id="hitl", assistant_id=str(pk), if_exists="do_nothing"
    )
    assert again == first and again.graph_id == "agent"
    # Another user's id is a conflict whatever if_exists says.
    with pytest.raises(Conflict):
        assistants.create_assistant(
            actor=bob, graph_id="agent", assistant_id=pk, if_exists="do_nothing"
        )


def test_another_users_assistant_is_not_found(alice, bob):
    mine = assistants.create_assistant(actor=alice, graph_id="agent", name="mine")
    for attempt in (
        lambda: assistants.get_assistant(mine.pk, actor=bob),
        lambda: assistants.update_assistant(mine.pk, actor=bob, name="theirs"),
        lambda: assistants.set_latest(mine.pk, actor=bob, version=1),
        lambda: assistants.delete_assistant(mine.pk, actor=bob),
        lambda: assistants.list_versions(mine.pk, actor=bob),
        lambda: assistants.resolve(str(mine.pk), actor=bob),
    ):
        with pytest.raises(AssistantNotFound):
            attempt()
    assert str(mine.pk) not in ids(assistants.search_assistants(actor=bob))
    assert assistants.count_assistants(actor=bob) == 2  # the defaults
    assert assistants.count_assistants(actor=alice) == 3
    assert assistants.get_assistant(mine.pk, actor=SYSTEM) == mine
    for bad in ("not-an-id", {"a": 1}, ["agent"], 7):
        with pytest.raises(AssistantNotFound):
            assistants.get_assistant(bad, actor=alice)
        with pytest.raises(AssistantNotFound):
            assistants.resolve(bad, actor=alice)


def test_an_update_is_a_new_version_and_set_latest_goes_back(alice):
    made = assistants.create_assistant(
        actor=alice, graph_id="agent", context={"reply_words": 3}, metadata={"team": "red"}
    )
    updated = assistants.update_assistant(
        made.pk, actor=alice, context={"reply_words": 7}, metadata={"tier": 2}, name="wordy"
    )
    assert updated.version == 2 and updated.name == "wordy"
    assert updated.context == {"reply_words": 7}
    assert updated.config == {"configurable": {"reply_words": 7}}
    assert updated.metadata == {"team": "red", "tier": 2}  # merged
    # Nothing given: a new version of the same.
    same = assistants.update_assistant(made.pk, actor=alice)
    assert same.version == 3 and same.context == {"reply_words": 7}
    versions = assistants.list_versions(made.pk, actor=alice)
    assert [v.version for v in versions] == [3, 2, 1]
    assert [
        v.version for v in assistants.list_versions(made.pk, actor=alice, limit=1, offset=1)
    ] == [2]
    tiered = assistants.list_versions(made.pk, actor=alice, metadata={"tier": 2})
    assert [v.version for v in tiered] == [3, 2]

    back = assistants.set_latest(made.pk, actor=alice, version=1)
    assert back.version == 1 and back.context == {"reply_words": 3} and back.name == "Untitled"
    assert back.metadata == {"team": "red"}
    assert AssistantVersion.objects.filter(assistant=made).count() == 3  # none deleted
    with pytest.raises(VersionNotFound):
        assistants.set_latest(made.pk, actor=alice, version=9)
    # The next update follows the highest version, not the current one.
    assert assistants.update_assistant(made.pk, actor=alice, name="again").version == 4


def test_an_update_to_another_graph_is_checked(alice):
    made = assistants.create_assistant(actor=alice, graph_id="agent")
    with pytest.raises(GraphNotFound):
        assistants.update_assistant(made.pk, actor=alice, graph_id="nope")
    moved = assistants.update_assistant(made.pk, actor=alice, graph_id="hitl")
    assert moved.graph_id == "hitl" and moved.version == 2
    with pytest.raises(InvalidRequest):
        assistants.update_assistant(made.pk, actor=alice, context={"token_delay": 99})


def test_search_filters_sorts_pages_and_selects(alice):
    red = assistants.create_assistant(
        actor=alice, graph_id="agent", name="Red Fox", metadata={"team": "red", "o": {"a": 1}}
    )
    blue = assistants.create_assistant(
        actor=alice, graph_id="hitl", name="blue whale", metadata={"team": "blue"}
    )
    search = assistants.search_assistants
    assert ids(search(actor=alice, metadata={"team": "red"})) == [str(red.pk)]
    assert ids(search(actor=alice, metadata={"o": {"a": 1}})) == [str(red.pk)]
    assert ids(search(actor=alice, name="FOX")) == [str(red.pk)]
    assert ids(search(actor=alice, graph_id="hitl", name="whale")) == [str(blue.pk)]
    assert assistants.count_assistants(actor=alice, graph_id="hitl") == 2
    assert assistants.count_assistants(actor=alice, metadata={"created_by": "system"}) == 2
    with pytest.raises(GraphNotFound):
        search(actor=alice, graph_id="nope")

    newest_first = ids(search(actor=alice))
    assert newest_first[:2] == [str(blue.pk), str(red.pk)]
    by_name = [a["name"] for a in search(actor=alice, sort_by="name", sort_order="asc").items]
    assert by_name == sorted(by_name, key=str.lower)
    page = search(actor=alice, limit=3, offset=0)
    assert len(page.items) == 3 and page.next_offset == 3 and page.total == 4
    last = search(actor=alice, limit=3, offset=3)
    assert len(last.items) == 1 and last.next_offset is None and last.total == 4
    assert set(ids(page) + ids(last)) == set(newest_first)

    picked = search(actor=alice, select=["assistant_id", "name"], limit=1)
    assert picked.items == [{"assistant_id": str(blue.pk), "name": "blue whale"}]
    with pytest.raises(InvalidRequest) as bad:
        search(actor=alice, select=["secret"])
    assert bad.value.field == "select"
    with pytest.raises(InvalidRequest):
        search(actor=alice, sort_by="owner")


def test_assistants_of_a_graph_no_longer_served_are_hidden(alice, settings):
    made = assistants.create_assistant(actor=alice, graph_id="hitl")
    settings.LANGGRAPH_CONFIG = None
    settings.RUNS_GRAPHS = {"agent": "runs.graphs.demo:graph"}
    assert [a["graph_id"] for a in assistants.search_assistants(actor=alice).items] == ["agent"]
    with pytest.raises(AssistantNotFound):
        assistants.get_assistant(made.pk, actor=alice)


def test_the_database_keeps_versions_unique(alice):
    made = assistants.create_assistant(actor=alice, graph_id="agent")
    with pytest.raises(IntegrityError), transaction.atomic():
        AssistantVersion.objects.create(assistant=made, version=1, graph_id="agent", name="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Assistant.objects.filter(pk=made.pk).update(version=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assistant.objects.filter(pk=made.pk).update(name="")


def test_a_run_of_an_assistant_runs_with_its_options_under_the_runs(alice, bob):
    terse = assistants.create_assistant(
        actor=alice,
        graph_id="hitl",
        config={"tags": ["terse"], "configurable": {"reply_words": 3, "token_delay": 0}},
    )
    thread = make_thread(alice)
    run = run_service.create_run(
        thread.pk,
        actor=alice,
        assistant_id=str(terse.pk),
        input={"messages": ["hi"]},
        config={"recursion_limit": 9, "configurable": {"token_delay": 0.01}},
        context={"reply_words": 5},
    )
    assert run.assistant_id == str(terse.pk)
    config, context = run.kwargs["config"], run.kwargs["context"]
    assert config["tags"] == ["terse"] and config["recursion_limit"] == 9
    # The run's options win, whichever way either of them gave them.
    assert config["configurable"] == {"token_delay": 0.01}
    assert context == {"reply_words": 5}
    assert run.kwargs["graph_id"] == "hitl"
    thread.refresh_from_db()
    assert thread.metadata["assistant_id"] == str(terse.pk)
    assert thread.metadata["graph_id"] == "hitl"

    # Without options of its own, the run gets the assistant's.
    plain = run_service.create_run(
        make_thread(alice).pk, actor=alice, assistant_id=str(terse.pk), input=None
    )
    assert plain.kwargs["context"] == {"reply_words": 3, "token_delay": 0}
    assert plain.kwargs["config"]["configurable"] == {"reply_words": 3, "token_delay": 0}

    # Another user cannot run it; a default assistant runs as before.
    with pytest.raises(AssistantNotFound):
        run_service.create_run(make_thread(bob).pk, actor=bob, assistant_id=str(terse.pk))
    default = run_service.create_run(make_thread(bob).pk, actor=bob, assistant_id="agent")
    assert default.assistant_id == AGENT and default.kwargs["context"] is None


def test_delete_interrupts_its_runs_and_may_delete_its_threads(alice):
    made = assistants.create_assistant(actor=alice, graph_id="agent")
    kept, doomed = make_thread(alice), make_thread(alice)
    other = make_thread(alice)
    run_service.create_run(kept.pk, actor=alice, assistant_id="agent", input=None)
    pending = run_service.create_run(doomed.pk, actor=alice, assistant_id=str(made.pk), input=None)
    assistants.delete_assistant(made.pk, actor=alice, delete_threads=True)
    assert not Assistant.objects.filter(pk=made.pk).exists()
    assert not AssistantVersion.objects.filter(assistant_id=made.pk).exists()
    assert not Thread.objects.filter(pk=doomed.pk).exists()
    assert not Run.objects.filter(pk=pending.pk).exists()
    assert Thread.objects.filter(pk__in=[kept.pk, other.pk]).count() == 2

    again = assistants.create_assistant(actor=alice, graph_id="agent")
    queued = run_service.create_run(other.pk, actor=alice, assistant_id=str(again.pk))
    assistants.delete_assistant(again.pk, actor=alice)
    assert Run.objects.get(pk=queued.pk).status == RunStatus.INTERRUPTED
    assert Thread.objects.filter(pk=other.pk).exists()


def test_a_default_assistant_follows_its_graph_s_description(alice, settings, tmp_path):
    def serve(description):
        config = tmp_path / f"{description}.json"
        graph = {"path": "runs.graphs.demo:graph", "description": description}
        config.write_text(json.dumps({"graphs": {"agent": graph}}))
        settings.LANGGRAPH_CONFIG = str(config)

    serve("first")
    assert assistants.get_assistant("agent", actor=alice).description == "first"
    serve("second")
    assert assistants.get_assistant("agent", actor=alice).description == "second"
    assert [v.description for v in assistants.list_versions("agent", actor=alice)] == ["second"]


def test_a_cron_of_an_assistant_fires_runs_with_its_options(alice, bob):
    """Crons resolve their assistant as runs do (assistants.resolve)."""
    terse = assistants.create_assistant(actor=alice, graph_id="hitl", context={"reply_words": 4})
    thread = make_thread(alice)
    now = datetime.datetime(2026, 3, 1, 10, 0, 30, tzinfo=datetime.UTC)
    cron = crons.create_cron(
        actor=alice,
        assistant_id=str(terse.pk),
        schedule="* * * * *",
        thread_id=thread.pk,
        payload={"input": {"messages": ["tick"]}, "context": {"token_delay": 0}},
        now=now,
    )
    assert cron.assistant_id == str(terse.pk)
    found = crons.search_crons(actor=alice, assistant_id=str(terse.pk))
    assert [c["cron_id"] for c in found.items] == [str(cron.pk)]
    [firing] = crons.fire_due_crons(now=now + datetime.timedelta(minutes=1))
    run = Run.objects.get(pk=firing.run_id)
    assert run.assistant_id == str(terse.pk) and run.kwargs["graph_id"] == "hitl"
    assert run.kwargs["context"] == {"reply_words": 4, "token_delay": 0}
    # Another user's assistant is not theirs to schedule.
    with pytest.raises(AssistantNotFound):
        crons.create_cron(
            actor=bob, assistant_id=str(terse.pk), schedule="* * * * *", thread_id=None
        )
    # Deleting the assistant deletes its crons.
    assistants.delete_assistant(terse.pk, actor=alice)
    assert not Cron.objects.filter(pk=cron.pk).exists()
