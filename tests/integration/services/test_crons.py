"""Crons (runs.services.crons): creating and changing them, and firing them
exactly once per tick, whoever races for it. Time is passed in (`now`), never
waited for."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, close_old_connections, connection, transaction

from runs.models import Cron, CronFiring, Run, RunStatus, Thread, ThreadStatus
from runs.services import assistants, crons, runs
from runs.services.actors import SYSTEM
from runs.services.errors import (
    AssistantNotFound,
    Conflict,
    CronNotFound,
    InvalidRequest,
    ThreadNotFound,
)
from runs.services.representation import cron_dict
from tests.conftest import make_thread, make_user

T0 = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
HELLO = {"input": {"messages": ["tick"]}}


def minute(n: int) -> datetime:
    """The n-th minute tick after T0."""
    return T0.replace(second=0) + timedelta(minutes=n)


@pytest.fixture
def owner(db):
    return make_user("alice")


def thread_cron(owner, **kwargs):
    thread = make_thread(owner)
    kwargs.setdefault("payload", HELLO)
    cron = crons.create_cron(
        actor=owner,
        assistant_id="agent",
        schedule="* * * * *",
        thread_id=thread.pk,
        now=T0,
        **kwargs,
    )
    return thread, cron


def test_a_thread_cron_is_created_with_its_next_tick(owner):
    thread, cron = thread_cron(owner, payload={**HELLO, "metadata": {"k": 1}})
    assert cron.next_run_date == minute(1)
    body = cron_dict(cron)
    assert body["thread_id"] == str(thread.pk) and body["on_run_completed"] is None
    assert body["assistant_id"] == cron.assistant_id and body["enabled"] is True
    assert body["metadata"] == {"k": 1} and body["user_id"] == "alice"
    assert body["payload"]["input"] == {"messages": ["tick"]}
    assert body["payload"]["config"]["configurable"]["cron_id"] == str(cron.pk)
    assert body["timezone"] is None


def test_creation_checks_what_the_runs_would_be_created_with(owner):
    thread = make_thread(owner)

    def create(**kwargs):
        base = {"actor": owner, "assistant_id": "agent", "schedule": "* * * * *"}
        return crons.create_cron(**{**base, **kwargs})

    with pytest.raises(InvalidRequest) as error:
        create(schedule="every minute")
    assert error.value.field == "schedule"
    with pytest.raises(InvalidRequest) as error:
        create(timezone="Nowhere/Else")
    assert error.value.field == "timezone"
    with pytest.raises(AssistantNotFound):
        create(assistant_id="nope")
    with pytest.raises(InvalidRequest) as error:
        create(payload={"context": {"reply_words": "many"}})
    assert error.value.field.startswith("context")
    with pytest.raises(InvalidRequest) as error:
        create(thread_id=thread.pk, on_run_completed="keep")
    assert error.value.field == "on_run_completed"
    with pytest.raises(ThreadNotFound):  # another user's thread is not found
        create(thread_id=make_thread(make_user("bob")).pk)
    assert Cron.objects.count() == 0
    assert create().on_run_completed == "delete"  # stateless: delete by default


def test_a_user_has_at_most_runs_max_crons_per_user(owner, settings):
    settings.RUNS_MAX_CRONS_PER_USER = 2
    thread_cron(owner)
    thread_cron(owner)
    with pytest.raises(Conflict):
        thread_cron(owner)
    crons.create_cron(actor=make_user("bob"), assistant_id="agent", schedule="* * * * *")


def test_the_database_keeps_on_run_completed_to_stateless_crons(owner):
    _, cron = thread_cron(owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        Cron.objects.filter(pk=cron.pk).update(on_run_completed="keep")


def test_fired_on_its_tick_through_the_run_service(owner):
    thread, cron = thread_cron(owner, payload={**HELLO, "metadata": {"from": "cron"}})
    assert crons.fire_due_crons(now=minute(1) - timedelta(seconds=1)) == []
    [firing] = crons.fire_due_crons(now=minute(1), worker_id="w1")
    run = Run.objects.get(pk=firing.run_id)
    assert run.thread_id == thread.pk and run.status == RunStatus.PENDING
    assert run.input["messages"][0]["content"] == "tick"
    assert run.metadata == {"from": "cron"}
    assert run.kwargs["config"]["configurable"]["cron_id"] == str(cron.pk)
    assert firing.scheduled_for == minute(1) and firing.worker_id == "w1"
    cron.refresh_from_db()
    assert cron.next_run_date == minute(2)
    # The same moment again: nothing is due.
    assert crons.fire_due_crons(now=minute(1)) == []
    assert Run.objects.count() == 1


def test_missed_ticks_fire_once_then_from_now(owner):
    _, cron = thread_cron(owner)
    late = minute(10) + timedelta(seconds=5)
    assert len(crons.fire_due_crons(now=late)) == 1
    cron.refresh_from_db()
    assert cron.next_run_date == minute(11)
    assert Run.objects.count() == 1


def test_two_firings_of_one_tick_create_one_run(owner):
    """What two workers that both saw the cron due do: the second finds the
    tick gone (the conditional UPDATE matched nothing) and creates nothing."""
    _, cron = thread_cron(owner)
    tick = cron.next_run_date
    first = crons.fire_cron(cron.pk, tick, now=minute(1), worker_id="w1")
    second = crons.fire_cron(cron.pk, tick, now=minute(1), worker_id="w2")
    assert first is not None and second is None
    assert Run.objects.count() == 1 and CronFiring.objects.count() == 1


def test_the_database_refuses_a_second_firing_of_a_tick(owner):
    _, cron = thread_cron(owner)
    CronFiring.objects.create(cron=cron, scheduled_for=minute(1))
    with pytest.raises(IntegrityError), transaction.atomic():
        CronFiring.objects.create(cron=cron, scheduled_for=minute(1))
    # A worker whose claim got that far creates no run either.
    assert crons.fire_cron(cron.pk, minute(1), now=minute(1)) is None
    assert Run.objects.count() == 0


def test_disabled_or_ended_crons_do_not_fire(owner):
    _, disabled = thread_cron(owner, enabled=False)
    _, ended = thread_cron(owner, end_time=minute(1) - timedelta(seconds=1))
    _, ends_later = thread_cron(owner, end_time=minute(3))
    fired = crons.fire_due_crons(now=minute(1))
    assert [f.cron_id for f in fired] == [ends_later.pk]
    assert crons.fire_due_crons(now=minute(3)) == []  # its end has come
    assert Run.objects.count() == 1
    disabled.refresh_from_db()
    assert disabled.next_run_date == minute(1)  # untouched


def test_a_deactivated_account_s_crons_do_not_fire(owner):
    thread_cron(owner)
    owner.is_active = False
    owner.save()
    assert crons.fire_due_crons(now=minute(1)) == []
    owner.is_active = True
    owner.save()
    assert len(crons.fire_due_crons(now=minute(1))) == 1


def test_re_enabling_starts_from_now_rather_than_a_stale_tick(owner):
    _, cron = thread_cron(owner, enabled=False)
    crons.update_cron(cron.pk, actor=owner, changes={"enabled": True}, now=minute(30))
    cron.refresh_from_db()
    assert cron.next_run_date == minute(31)


def test_a_fired_run_follows_the_thread_s_strategy(owner):
    thread = make_thread(owner)

    def cron(strategy):
        return crons.create_cron(
            actor=owner,
            assistant_id="agent",
            schedule="* * * * *",
            thread_id=thread.pk,
            payload={**HELLO, "multitask_strategy": strategy},
            now=T0,
        )

    rejecting = cron("reject")
    busy = runs.create_run(thread.pk, actor=owner, input={"messages": ["busy"]})
    [firing] = crons.fire_due_crons(now=minute(1))
    assert firing.run_id is None and firing.error["error"] == "thread_busy"
    rejecting.refresh_from_db()
    assert rejecting.next_run_date == minute(2)  # the tick is spent, as on the platform
    crons.delete_cron(rejecting.pk, actor=owner)

    cron("interrupt")
    [firing] = crons.fire_due_crons(now=minute(2))
    busy.refresh_from_db()
    assert busy.cancel_action == "interrupt"  # the double-text interrupted it
    assert Run.objects.get(pk=firing.run_id).multitask_strategy == "interrupt"


def test_a_run_that_cannot_be_created_spends_the_tick_and_says_why(owner, monkeypatch):
    _, broken = thread_cron(owner)
    _, fine = thread_cron(owner)

    def failing(cron):
        if cron.pk == broken.pk:
            raise RuntimeError("the graph no longer imports")
        return real(cron)

    real = crons._create_run
    monkeypatch.setattr(crons, "_create_run", failing)
    fired = {f.cron_id: f for f in crons.fire_due_crons(now=minute(1))}
    assert fired[broken.pk].run_id is None
    assert fired[broken.pk].error == {
        "error": "RuntimeError",
        "detail": "the graph no longer imports",
    }
    assert fired[fine.pk].run_id is not None
    broken.refresh_from_db()
    assert broken.next_run_date == minute(2)


def test_a_stateless_cron_creates_a_thread_per_run(owner):
    cron = crons.create_cron(
        actor=owner, assistant_id="agent", schedule="* * * * *", payload=HELLO, now=T0
    )
    kept = crons.create_cron(
        actor=owner,
        assistant_id="agent",
        schedule="* * * * *",
        payload=HELLO,
        on_run_completed="keep",
        now=T0,
    )
    crons.fire_due_crons(now=minute(1))
    crons.fire_due_crons(now=minute(2))
    mine = Run.objects.filter(kwargs__config__configurable__cron_id=str(cron.pk))
    assert mine.count() == 2 and len({run.thread_id for run in mine}) == 2
    assert {run.kwargs["on_completion"] for run in mine} == {"delete"}
    assert Thread.objects.filter(pk__in=[r.thread_id for r in mine], owner=owner).count() == 2
    theirs = Run.objects.filter(kwargs__config__configurable__cron_id=str(kept.pk))
    assert {run.kwargs["on_completion"] for run in theirs} == {"keep"}


def test_update_merges_metadata_replaces_run_fields_and_reschedules(owner):
    _, cron = thread_cron(owner, payload={**HELLO, "metadata": {"a": 1}})
    updated = crons.update_cron(
        cron.pk,
        actor=owner,
        changes={
            "schedule": "0 * * * *",
            "metadata": {"b": 2},
            "input": {"messages": ["tock"]},
            "end_time": minute(600),
        },
        now=minute(5),
    )
    assert updated.metadata == {"a": 1, "b": 2}
    assert updated.payload["input"] == {"messages": ["tock"]}
    assert updated.payload["config"]["configurable"]["cron_id"] == str(cron.pk)
    assert updated.next_run_date == minute(60) and updated.end_time == minute(600)
    cleared = crons.update_cron(cron.pk, actor=owner, changes={"end_time": None})
    assert cleared.end_time is None
    with pytest.raises(InvalidRequest):
        crons.update_cron(cron.pk, actor=owner, changes={})
    for field in ("assistant_id", "thread_id", "colour"):
        with pytest.raises(InvalidRequest) as error:
            crons.update_cron(cron.pk, actor=owner, changes={field: "x"})
        assert error.value.field == field
    with pytest.raises(InvalidRequest) as error:
        crons.update_cron(cron.pk, actor=owner, changes={"on_run_completed": "keep"})
    assert error.value.field == "on_run_completed"


def test_a_cron_of_one_s_own_assistant_runs_it_and_goes_with_it(owner):
    mine = assistants.create_assistant(
        actor=owner, graph_id="agent", context={"reply_words": 7}, name="short"
    )
    thread = make_thread(owner)
    cron = crons.create_cron(
        actor=owner,
        assistant_id=str(mine.pk),
        schedule="* * * * *",
        thread_id=thread.pk,
        payload=HELLO,
        now=T0,
    )
    assert cron.assistant_id == str(mine.pk)
    assert crons.count_crons(actor=owner, assistant_id=str(mine.pk)) == 1
    [firing] = crons.fire_due_crons(now=minute(1))
    run = Run.objects.get(pk=firing.run_id)
    assert run.assistant_id == str(mine.pk)
    assert run.kwargs["context"] == {"reply_words": 7}  # the assistant's options
    # Another user cannot schedule it.
    with pytest.raises(AssistantNotFound):
        crons.create_cron(actor=make_user("bob"), assistant_id=str(mine.pk), schedule="* * * * *")
    # Its crons go with it.
    assistants.delete_assistant(mine.pk, actor=owner)
    assert not Cron.objects.filter(pk=cron.pk).exists()


def test_others_crons_are_not_found(owner):
    _, cron = thread_cron(owner)
    bob = make_user("bob")
    for call in (
        lambda: crons.get_cron(cron.pk, actor=bob),
        lambda: crons.update_cron(cron.pk, actor=bob, changes={"enabled": False}),
        lambda: crons.delete_cron(cron.pk, actor=bob),
        lambda: crons.get_cron("not-a-uuid", actor=owner),
    ):
        with pytest.raises(CronNotFound):
            call()
    assert crons.search_crons(actor=bob).items == []
    assert crons.count_crons(actor=bob) == 0
    assert crons.count_crons(actor=SYSTEM) == 1
    crons.delete_cron(cron.pk, actor=owner)
    assert crons.count_crons(actor=owner) == 0


def test_search_filters_sorts_pages_and_selects(owner):
    thread, first = thread_cron(owner, payload={**HELLO, "metadata": {"team": "a"}})
    second = crons.create_cron(
        actor=owner, assistant_id="agent", schedule="0 * * * *", payload=HELLO, now=T0
    )
    page = crons.search_crons(actor=owner, thread_id=thread.pk)
    assert [c["cron_id"] for c in page.items] == [str(first.pk)]
    assert crons.count_crons(actor=owner, metadata={"team": "a"}) == 1
    assert crons.count_crons(actor=owner, assistant_id="agent") == 2
    assert crons.count_crons(actor=owner, assistant_id=first.assistant_id) == 2
    assert crons.count_crons(actor=owner, assistant_id="nope") == 0
    by_next = crons.search_crons(actor=owner, sort_by="next_run_date", sort_order="asc")
    assert [c["cron_id"] for c in by_next.items] == [str(first.pk), str(second.pk)]
    one = crons.search_crons(actor=owner, limit=1, select=["cron_id", "schedule"])
    assert set(one.items[0]) == {"cron_id", "schedule"}
    assert one.next_offset == 1 and one.total == 2
    assert len(crons.search_crons(actor=owner, enabled=False).items) == 0
    with pytest.raises(InvalidRequest) as error:
        crons.search_crons(actor=owner, select=["now"])
    assert error.value.field == "select"


def test_deleting_a_thread_deletes_its_crons(owner):
    thread, _ = thread_cron(owner)
    Thread.objects.filter(pk=thread.pk).delete()
    assert Cron.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_fire_attempts_for_one_tick_create_one_run():
    """Workers racing, each in a thread of its own with its own connection."""
    owner = make_user("alice")
    thread = make_thread(owner)
    crons.create_cron(
        actor=owner,
        assistant_id="agent",
        schedule="* * * * *",
        thread_id=thread.pk,
        payload=HELLO,
        now=T0,
    )
    attempts = 4
    start = threading.Barrier(attempts)
    results, errors = [], []

    def worker(name):
        close_old_connections()
        try:
            start.wait()
            results.extend(crons.fire_due_crons(now=minute(1), worker_id=name))
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(attempts)]
    for each in workers:
        each.start()
    for each in workers:
        each.join()
    assert errors == []
    assert len(results) == 1
    assert Run.objects.count() == 1 and CronFiring.objects.count() == 1
    assert Thread.objects.get(pk=thread.pk).status == ThreadStatus.BUSY
