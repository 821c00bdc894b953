"""Creating runs with a double-texting strategy, and cancelling runs.

Every entry point (REST, websocket, admin) goes through `create_run` and
`cancel_run`. Each decision is one transaction with the thread row locked
(SELECT ... FOR UPDATE; on SQLite, an IMMEDIATE transaction), so it stays
correct with several server processes and workers.

What happens to the thread's *other* runs follows LangGraph Platform: when a
run is created with `interrupt` or `rollback`, every run of the thread that is
in flight, the running one and any still pending (queued with `enqueue`), is
cancelled with that action; `reject` refuses if any run is pending or running;
`enqueue` only appends. So a double-text with interrupt/rollback means "forget
what was queued, answer this now".
"""

import logging

from django.db import transaction
from django.utils import timezone

from runs import agents, events
from runs import messages as msgs
from runs.exceptions import (
    AssistantNotFound,
    InvalidRequest,
    RunNotFound,
    ThreadBusy,
)
from runs.models import (
    ACTIVE_RUN_STATUSES,
    CancelAction,
    MultitaskStrategy,
    Run,
    RunStatus,
    Thread,
    ThreadStatus,
)
from runs.representation import run_dict
from runs.state import create_thread, get_thread, lock_thread, new_thread_id, parse_id

logger = logging.getLogger(__name__)


def validate_strategy(strategy) -> str:
    if strategy is None:
        return MultitaskStrategy.ENQUEUE
    if strategy not in MultitaskStrategy.values:
        raise InvalidRequest(
            f"Unknown multitask_strategy {strategy!r}; use one of {MultitaskStrategy.values}.",
            field="multitask_strategy",
        )
    return strategy


def validate_action(action) -> str:
    if action is None:
        return CancelAction.INTERRUPT
    if action not in CancelAction.values:
        raise InvalidRequest(
            f"Unknown action {action!r}; use one of {CancelAction.values}.", field="action"
        )
    return action


def check_agent_options(graph_id: str, config) -> None:
    """`config` must be an object; its `configurable` the agent's options."""
    if config is not None and not isinstance(config, dict):
        raise InvalidRequest("config must be an object.", field="config")
    options = (config or {}).get("configurable") or {}
    if not isinstance(options, dict):
        raise InvalidRequest("config.configurable must be an object.", field="config.configurable")
    try:
        agents.get_agent(graph_id).check_options(options)
    except agents.InvalidOption as error:
        raise InvalidRequest(error.message, field=f"config.configurable.{error.key}") from None


def create_run(
    thread_id,
    *,
    assistant_id: str = "agent",
    input=None,
    multitask_strategy: str | None = None,
    config: dict | None = None,
    metadata: dict | None = None,
    kwargs: dict | None = None,
    if_not_exists: str | None = None,
    owner=None,
) -> Run:
    """Create a run on a thread, applying the double-texting strategy.

    With `owner`, the thread must be theirs (another user's thread is not
    found) and `if_not_exists="create"` creates it for them.

    Raises ThreadBusy (409) for `reject` on a busy thread, ThreadNotFound,
    AssistantNotFound or InvalidRequest for bad input; nothing is written then.
    """
    strategy = validate_strategy(multitask_strategy)
    graph_id = agents.resolve_graph_id(assistant_id)
    if graph_id is None:
        raise AssistantNotFound(f"Assistant {assistant_id!r} not found.", field="assistant_id")
    check_agent_options(graph_id, config)
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("metadata must be an object.", field="metadata")
    if if_not_exists not in (None, "reject", "create"):
        raise InvalidRequest("if_not_exists must be 'reject' or 'create'.", field="if_not_exists")
    try:
        run_input = msgs.normalise_input(input)
    except msgs.MessageError as error:
        raise InvalidRequest(error.message, field=error.field) from None

    if if_not_exists == "create":
        if owner is None:
            raise ValueError("if_not_exists='create' needs the owner of the new thread")
        thread_id = new_thread_id(thread_id)
    with transaction.atomic():
        if if_not_exists == "create" and not Thread.objects.filter(pk=thread_id).exists():
            create_thread(thread_id=thread_id, owner=owner, if_exists="do_nothing")
        thread = lock_thread(thread_id, owner)
        in_flight = list(thread.runs.filter(status__in=ACTIVE_RUN_STATUSES).order_by("seq"))
        if in_flight and strategy == MultitaskStrategy.REJECT:
            raise ThreadBusy(
                "Thread is already running a run; the strategy is 'reject'.",
                field="multitask_strategy",
            )
        if in_flight and strategy in (MultitaskStrategy.INTERRUPT, MultitaskStrategy.ROLLBACK):
            _cancel_locked(thread, in_flight, action=strategy)
        thread.run_counter += 1
        thread.status = ThreadStatus.BUSY
        thread.save(update_fields=["run_counter", "status", "updated_at"])
        run = Run.objects.create(
            thread=thread,
            seq=thread.run_counter,
            assistant_id=assistant_id,
            multitask_strategy=strategy,
            input=run_input,
            kwargs={**(kwargs or {}), "config": config or {}, "graph_id": graph_id},
            metadata=metadata or {},
        )
        payload = run_dict(run)
        transaction.on_commit(lambda: _announce_created(thread.pk, payload))
    return run


def _announce_created(thread_id, payload: dict) -> None:
    events.send_sync(
        events.thread_group(thread_id),
        events.event(
            thread_id, payload["run_id"], events.LIFECYCLE, {"status": "created", "run": payload}
        ),
    )
    events.wake_workers_sync(thread_id)


def _cancel_locked(thread: Thread, runs: list[Run], *, action: str) -> None:
    """Cancel in-flight runs of a locked thread.

    - pending: interrupt marks it `interrupted`; rollback deletes it.
    - running: interrupt asks its executor to stop (it keeps the partial answer
      and sets `interrupted`); rollback deletes the run and its checkpoints now,
      so the thread's state is at once what it was before the run, and tells
      the executor to drop what it was doing.
    """
    now = timezone.now()
    for run in runs:
        payload = run_dict(run)
        run_id = run.pk  # delete() below sets run.pk to None
        if action == CancelAction.ROLLBACK:
            run.delete()  # cascades to the checkpoints it wrote
            status = "rolled_back"
        elif run.status == RunStatus.PENDING:
            run.status = RunStatus.INTERRUPTED
            run.cancel_action = action
            run.ended_at = now
            run.save(update_fields=["status", "cancel_action", "ended_at", "updated_at"])
            status = "interrupted"
            payload = run_dict(run)
        else:
            run.cancel_action = action
            run.save(update_fields=["cancel_action", "updated_at"])
            status = "interrupting"
        transaction.on_commit(
            lambda run_id=run_id, payload=payload, status=status: _announce_cancel(
                thread.pk, run_id, action, status, payload
            )
        )


def _announce_cancel(thread_id, run_id, action: str, status: str, payload: dict) -> None:
    events.send_sync(
        events.run_control_group(run_id),
        {"type": "run.cancel", "run_id": str(run_id), "action": action},
    )
    events.send_sync(
        events.thread_group(thread_id),
        events.event(thread_id, run_id, events.LIFECYCLE, {"status": status, "run": payload}),
    )


def cancel_run(thread_id, run_id, *, action: str | None = None, owner=None) -> Run | None:
    """Cancel one run. Returns the run (None once rolled back, as it is gone).

    Cancelling a run that already ended is a no-op for interrupt; rollback of
    an ended run is refused (its effects are part of later state). With
    `owner`, the thread must be theirs.
    """
    action = validate_action(action)
    with transaction.atomic():
        thread = lock_thread(thread_id, owner)
        run = get_run(thread.pk, run_id)
        if run.status not in ACTIVE_RUN_STATUSES:
            return run
        _cancel_locked(thread, [run], action=action)
        _refresh_thread_status(thread)
    return None if action == CancelAction.ROLLBACK else run


def cancel_thread_runs(thread_id, *, action: str | None = None, owner=None) -> int:
    """Cancel every in-flight run of a thread (with `owner`: theirs). Returns how many."""
    action = validate_action(action)
    with transaction.atomic():
        thread = lock_thread(thread_id, owner)
        runs = list(thread.runs.filter(status__in=ACTIVE_RUN_STATUSES).order_by("seq"))
        _cancel_locked(thread, runs, action=action)
        _refresh_thread_status(thread)
    return len(runs)


def _refresh_thread_status(thread: Thread) -> None:
    """After a cancel: a thread with nothing left in flight is idle."""
    if not thread.runs.filter(status__in=ACTIVE_RUN_STATUSES).exists():
        thread.status = ThreadStatus.IDLE
        thread.save(update_fields=["status", "updated_at"])


def get_run(thread_id, run_id) -> Run:
    try:
        return Run.objects.get(
            pk=parse_id(run_id, field="run_id", not_found=RunNotFound),
            thread_id=parse_id(thread_id, field="thread_id"),
        )
    except Run.DoesNotExist:
        raise RunNotFound(f"Run {run_id} not found.", field="run_id") from None


def delete_run(thread_id, run_id) -> None:
    """Delete a run that is not in flight (LangGraph refuses in-flight ones)."""
    from runs.exceptions import Conflict

    with transaction.atomic():
        lock_thread(thread_id)
        run = get_run(thread_id, run_id)
        if run.status in ACTIVE_RUN_STATUSES:
            raise Conflict("Cancel the run before deleting it.", field="run_id")
        # The thread's history stays as it is: only the run record goes.
        run.checkpoints.update(run=None)
        run.delete()


def list_runs(thread_id, *, limit: int = 10, offset: int = 0, status: str | None = None):
    """A thread's runs, newest first."""
    thread = get_thread(thread_id)
    runs = thread.runs.all()
    if status:
        runs = runs.filter(status=status)
    return list(runs.order_by("-seq")[offset : offset + limit])
