"""A thread's state: the current one, at a checkpoint, its history, updates.

States are read through the thread's graph (`graph.get_state`, as LangGraph
Platform does), so `next`, `tasks` and `interrupts` are LangGraph's own. The
graph is the one the thread's runs use: `metadata.graph_id`, stamped when a
run is created. A thread that never had a run has no graph: its state is
empty, and a manual update needs a graph id in its metadata first.
"""

from django.db import transaction
from langgraph.errors import InvalidUpdateError
from langgraph.types import StateUpdate

from runs.graphs.registry import graph_sync, registry
from runs.graphs.serialization import EMPTY_STATE, checkpoint_ref, snapshot_dict
from runs.models import ThreadStatus
from runs.services import chat_messages as msgs
from runs.services import persistence
from runs.services.errors import Conflict, GraphNotAssigned, InvalidRequest
from runs.services.threads import get_thread, lock_thread


def _graph_of(thread, *, required: bool) -> str | None:
    graph_id = (thread.metadata or {}).get("graph_id")
    if graph_id is None or registry().resolve(graph_id) is None:
        if required:
            raise GraphNotAssigned(
                f"Thread {thread.pk} has no graph (metadata.graph_id): create a run on it "
                "first, or set metadata.graph_id to one of the assistants' graphs.",
                field="metadata.graph_id",
            )
        return None
    return registry().resolve(graph_id)


def _raw_state(thread_id, checkpoint_id=None, checkpoint_ns: str = "") -> dict:
    """The state of a thread without a graph: its checkpoint's values only."""
    config = persistence.thread_config(thread_id, checkpoint_id, checkpoint_ns)
    checkpoint = persistence.reader().get_tuple(config)
    if checkpoint is None:
        return dict(EMPTY_STATE)
    ref = checkpoint_ref(checkpoint.config)
    parent = checkpoint_ref(checkpoint.parent_config)
    return {
        **EMPTY_STATE,
        "values": persistence.state_values(checkpoint),
        "metadata": checkpoint.metadata,
        "created_at": checkpoint.checkpoint.get("ts"),
        "checkpoint": ref,
        "parent_checkpoint": parent,
        "checkpoint_id": ref["checkpoint_id"],
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def get_state(
    thread_id, *, actor, checkpoint_id=None, checkpoint_ns: str = "", subgraphs: bool = False
) -> dict:
    """The thread's state, at its latest checkpoint or at `checkpoint_id`;
    a subgraph's, at its namespace `checkpoint_ns` ("parent:<task id>")."""
    thread = get_thread(thread_id, actor=actor)
    graph_id = _graph_of(thread, required=False)
    if graph_id is None:
        return _raw_state(thread.pk, checkpoint_id, checkpoint_ns)
    config = persistence.thread_config(thread.pk, checkpoint_id, checkpoint_ns)
    with graph_sync(graph_id, config, checkpointer=persistence.reader()) as graph:
        try:
            snapshot = graph.get_state(config, subgraphs=subgraphs)
        except ValueError as error:  # no subgraph at that namespace
            raise InvalidRequest(str(error), field="checkpoint.checkpoint_ns") from None
        return snapshot_dict(snapshot)


def get_state_at(thread_id, *, actor, checkpoint: dict, subgraphs: bool = False) -> dict:
    """The state at a checkpoint named as the SDKs name one: {"checkpoint_id",
    "checkpoint_ns"?} (a state's `checkpoint`, whose `thread_id` must then be
    this thread's)."""
    thread = get_thread(thread_id, actor=actor)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("checkpoint_id"), str):
        raise InvalidRequest("checkpoint must name a checkpoint_id.", field="checkpoint")
    named = checkpoint.get("thread_id")
    if named not in (None, "") and str(named).lower() != str(thread.pk):
        raise InvalidRequest(
            f"checkpoint.thread_id {named!r} is not this thread.", field="checkpoint.thread_id"
        )
    if checkpoint.get("checkpoint_map"):
        raise InvalidRequest(
            "checkpoint_map is not supported: name the checkpoint by checkpoint_ns.",
            field="checkpoint.checkpoint_map",
        )
    namespace = checkpoint.get("checkpoint_ns") or ""
    if not isinstance(namespace, str):
        raise InvalidRequest("checkpoint_ns must be a string.", field="checkpoint.checkpoint_ns")
    return get_state(
        thread.pk,
        actor=actor,
        checkpoint_id=checkpoint["checkpoint_id"],
        checkpoint_ns=namespace,
        subgraphs=subgraphs,
    )


def thread_messages(thread_id, *, actor) -> list:
    """The messages of the thread's latest checkpoint, as JSON (the chat page)."""
    thread = get_thread(thread_id, actor=actor)
    values = persistence.latest_values(thread.pk)
    messages = values.get("messages")
    return list(messages) if isinstance(messages, list) else []


def history(
    thread_id,
    *,
    actor,
    limit: int = 10,
    before: str | None = None,
    metadata: dict | None = None,
    checkpoint: dict | None = None,
) -> list[dict]:
    """The thread's states, newest first: before a checkpoint id, matching
    metadata (key = value), within a checkpoint (its id and/or namespace)."""
    thread = get_thread(thread_id, actor=actor)
    graph_id = _graph_of(thread, required=False)
    if graph_id is None:
        return []
    config = persistence.thread_config(thread.pk)
    config["configurable"].update(
        {k: v for k, v in (checkpoint or {}).items() if k in ("checkpoint_id", "checkpoint_ns")}
    )
    before_config = persistence.thread_config(thread.pk, before) if before else None
    with graph_sync(graph_id, config, checkpointer=persistence.reader()) as graph:
        states = graph.get_state_history(
            config, filter=metadata or None, before=before_config, limit=limit
        )
        return [snapshot_dict(state) for state in states]


def _update_values(values, field: str):
    """An update's values, its messages normalised as a run's input is."""
    if values is not None and not isinstance(values, dict):
        raise InvalidRequest(f"{field} must be an object.", field=field)
    if values and "messages" in values:
        try:
            values = {**values, **msgs.normalise_input({"messages": values["messages"]})}
        except msgs.MessageError as error:
            raise InvalidRequest(
                error.message, field=error.field.replace("input", field, 1)
            ) from None
    return values


# What an update may be written as besides the graph's nodes (LangGraph's own):
# the graph's input, a copy of the checkpoint, the end (values null: clear tasks).
SPECIAL_NODES = ("__input__", "__copy__", "__end__")


def _supersteps(supersteps) -> list[list[StateUpdate]]:
    """The `supersteps` of POST /threads as LangGraph's: [[StateUpdate]]."""
    if not isinstance(supersteps, list):
        raise InvalidRequest("supersteps must be a list.", field="supersteps")
    parsed = []
    for i, superstep in enumerate(supersteps):
        field = f"supersteps[{i}]"
        updates = superstep.get("updates") if isinstance(superstep, dict) else None
        if not isinstance(updates, list) or not updates:
            raise InvalidRequest(
                'A superstep is {"updates": [...]} with at least one update.', field=field
            )
        step = []
        for j, update in enumerate(updates):
            at = f"{field}.updates[{j}]"
            if not isinstance(update, dict):
                raise InvalidRequest('An update is {"values", "as_node"}.', field=at)
            if update.get("command") is not None:
                raise InvalidRequest(
                    "Commands in supersteps are not supported: give values and as_node.",
                    field=f"{at}.command",
                )
            as_node = update.get("as_node")
            if not isinstance(as_node, str):
                raise InvalidRequest("as_node must name a node.", field=f"{at}.as_node")
            values = _update_values(update.get("values"), f"{at}.values")
            step.append(StateUpdate(values, as_node))
        parsed.append(step)
    return parsed


def _apply_locked(thread, supersteps, *, checkpoint_id=None, one_update: bool = False) -> dict:
    """Write `supersteps` ([[StateUpdate]]) to the locked thread's state, one
    checkpoint each (from `checkpoint_id` if given: a fork), and settle the
    thread: `interrupted` when the graph has steps left, else `idle`. Returns
    the config of the last checkpoint written. `one_update`: POST /state's
    update (its fields named as its own; only the graph's nodes as as_node)."""
    if thread.in_flight_runs().exists():
        raise Conflict(f"Thread {thread.pk} has a run in flight.", field="thread_id")
    graph_id = _graph_of(thread, required=True)
    config = persistence.thread_config(thread.pk, checkpoint_id)
    with graph_sync(graph_id, config, checkpointer=persistence.saver()) as graph:
        allowed = set(graph.nodes) | (set() if one_update else set(SPECIAL_NODES))
        for i, step in enumerate(supersteps):
            for j, update in enumerate(step):
                if update.as_node is not None and update.as_node not in allowed:
                    field = "as_node" if one_update else f"supersteps[{i}].updates[{j}].as_node"
                    raise InvalidRequest(f"Node {update.as_node!r} does not exist.", field=field)
        try:
            written = graph.bulk_update_state(config, supersteps)
        except (InvalidUpdateError, ValueError) as error:
            # ValueError: the graph's own code refused the update (a branch
            # that finds no messages in the state, ...): the client's values.
            if one_update:
                field = "as_node" if supersteps[0][0].as_node else "values"
            else:
                field = "supersteps"
            raise InvalidRequest(str(error), field=field) from None
        pending = graph.get_state(persistence.thread_config(thread.pk)).next
    status = ThreadStatus.INTERRUPTED if pending else ThreadStatus.IDLE
    persistence.refresh_thread(thread, status=status)
    return written


def update_state(
    thread_id, *, actor, values, as_node: str | None = None, checkpoint_id=None
) -> dict:
    """Apply `values` to the thread's state as a new checkpoint, as if node
    `as_node` wrote them (LangGraph's `update_state`); from `checkpoint_id`
    if given (a fork). Refused while a run is in flight (409)."""
    values = _update_values(values, "values")
    with transaction.atomic():
        thread = lock_thread(thread_id, actor=actor)
        update = [[StateUpdate(values, as_node)]]
        written = _apply_locked(thread, update, checkpoint_id=checkpoint_id, one_update=True)
    ref = checkpoint_ref(written)
    return {"checkpoint": ref, "configurable": ref, "checkpoint_id": ref["checkpoint_id"]}


def apply_supersteps(thread_id, *, actor, supersteps) -> None:
    """Apply supersteps to the thread's state, in order, each one checkpoint
    with its updates applied together, as LangGraph's `bulk_update_state`
    (POST /threads with `supersteps`: a thread made with a history). Each
    update is {"values", "as_node"}; as_node may also be `__input__` (the
    values are the graph's input), `__copy__` or `__end__`."""
    parsed = _supersteps(supersteps)
    if not parsed:
        return
    with transaction.atomic():
        _apply_locked(lock_thread(thread_id, actor=actor), parsed)
