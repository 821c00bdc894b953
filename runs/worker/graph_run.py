"""Driving one run's graph: `graph.astream(...)`, each part onto the bus.

For a claimed run, `drive`:
- builds the graph (runs.graphs.registry) with a checkpointer that refuses
  writes once the run is cancelled (runs.worker.saver), the store of the
  thread's owner (store.backend), and the run's config:
  thread id, run id, the client's config and context, the run's metadata;
- streams it with the stream modes the run asked for, plus the two the server
  needs itself (`messages`: tokens, for the chat page and the partial answer;
  `updates`: finished steps), and publishes every part as it comes, in
  LangGraph's order (a step's messages before its updates and values). No
  part is written to the database: checkpoints are the graph's own;
- races every part against the run's cancel signal, so it stops within one
  token: cancelling the pending `anext()` cancels the node that streams;
- keeps the answer being streamed at the top level (`ActiveRun.partial`):
  on `interrupt`, it is written to the thread's state as the AI message of
  the node that was streaming, marked `response_metadata.interrupted`, so the
  next run sees what the user saw (LangGraph's `aupdate_state`, whose writes
  the saver keeps for the transaction that ends the run: `Outcome.state_writes`).
  A graph without `messages` keeps its completed steps only;
- resumes from the thread's last checkpoint a run that an earlier attempt
  had started (its worker died), instead of applying its input again.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import add_ai_message_chunks
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.types import Command

from runs.bus import event_log, protocol
from runs.bus.publish import heard, publish_soon
from runs.graphs.registry import GraphLoadError, graph_for
from runs.graphs.serialization import INTERRUPT_KEY, jsonable, message_text
from runs.models import CancelAction, RunStatus
from runs.worker.saver import RunCancelled, RunSaver
from runs.worker.transactions import ClaimedRun
from store.backend import DjangoStore

logger = logging.getLogger(__name__)

# The modes the server itself reads, whatever the client asked for.
SERVER_MODES = ("messages", "updates")
# Client stream modes (LangGraph Platform's names) -> LangGraph's.
GRAPH_MODE = {
    "values": "values",
    "updates": "updates",
    "messages": "messages",
    "messages-tuple": "messages",
    "custom": "custom",
    "debug": "debug",
    "tasks": "tasks",
    "checkpoints": "checkpoints",
}
# Not a LangGraph stream mode: LangChain's event stream (`astream_events`).
EVENTS = "events"
# Keys of a client's config that LangGraph reads besides configurable and metadata.
CONFIG_KEYS = ("tags", "recursion_limit", "max_concurrency", "run_name")


@dataclass
class Partial:
    """The AI message being streamed at the top level, as far as it got."""

    message_id: str
    node: str
    # Its tokens, merged when read: adding chunks (a pydantic model each) per
    # token cost more than publishing it, for text nobody reads unless the
    # run is interrupted or a late watcher asks.
    chunks: list[AIMessageChunk] = field(default_factory=list)
    tokens: int = 0

    def add(self, chunk: AIMessageChunk) -> int:
        """Add a token; returns its position in the message."""
        self.chunks.append(chunk)
        self.tokens += 1
        return self.tokens - 1

    @property
    def chunk(self) -> AIMessageChunk | None:
        if len(self.chunks) > 1:
            self.chunks[:] = [add_ai_message_chunks(self.chunks[0], *self.chunks[1:])]
        return self.chunks[0] if self.chunks else None

    @property
    def text(self) -> str:
        return message_text(self.chunk.content) if self.chunk is not None else ""

    def message(self) -> AIMessage:
        """The cut-short answer as it goes into the state (tool calls that had
        not finished streaming are dropped)."""
        return AIMessage(
            content=self.text,
            id=self.message_id,
            response_metadata={"finish_reason": "interrupted", "interrupted": True},
        )


@dataclass
class ActiveRun:
    claim: ClaimedRun
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    action: str = ""
    partial: Partial | None = None
    seq: int = 0  # parts published
    # The metadata of the tokens being streamed, and its JSON: LangGraph sends
    # the same dict with each token of a model call.
    token_metadata: tuple[dict, dict] | None = None
    # The graph stopped with tasks left, to be resumed: an `interrupt()`, or
    # `interrupt_before/after` (LangGraph reports both as an `__interrupt__` update).
    stopped_at_interrupt: bool = False
    # The task reading the graph's parts (`_consume`), and whether it is
    # waiting for the next one: then a cancel cancels it.
    pump: asyncio.Task | None = None
    awaiting_part: bool = False
    pump_cancelled: bool = False
    # What the graph writes through, and what it holds in memory.
    saver: RunSaver | None = None

    def cancel(self, action: str) -> None:
        if not self.action:
            self.action = action
        self.cancelled.set()
        if self.pump is not None and self.awaiting_part and not self.pump_cancelled:
            self.pump_cancelled = True
            self.pump.cancel()

    def snapshot(self) -> protocol.Partial | None:
        """What a late watcher needs to show the answer being streamed."""
        if self.partial is None:
            return None
        return {
            "message_id": self.partial.message_id,
            "text": self.partial.text,
            "count": self.partial.tokens,
        }


@dataclass
class Outcome:
    status: str  # a RunStatus, or Lifecycle.ROLLED_BACK
    error: dict | None = None
    pending: bool = False  # stopped with tasks left (interrupt()): the thread waits
    partial_message: dict | None = None  # the answer kept by an interrupt
    # Its last checkpoint writes, made by finish_run in its transaction
    # (RunSaver.write_queued, or write_deferred for a kept partial answer).
    state_writes: Callable[[], None] | None = None
    # Reads the thread's latest checkpoint, for finish_run: RunSaver.latest.
    head: Callable[[], CheckpointTuple | None] | None = None


def run_config(claim: ClaimedRun) -> dict:
    """The config the graph runs with, as LangGraph Platform builds it."""
    client = claim.kwargs.get("config") or {}
    configurable = dict(client.get("configurable") or {})
    if claim.reads_latest:
        # Another attempt, or a fork that only the runs it double-texted have
        # moved past, goes on from the thread's latest checkpoint.
        configurable.pop("checkpoint_id", None)
    ids = {
        "thread_id": claim.thread_id,
        "run_id": claim.run_id,
        "graph_id": claim.graph_id,
        "assistant_id": claim.assistant_id,
    }
    return {
        **{key: client[key] for key in CONFIG_KEYS if key in client},
        "configurable": {**configurable, **ids},
        "metadata": {
            **(client.get("metadata") or {}),
            **claim.metadata,
            **ids,
            "run_attempt": claim.attempt,
        },
        "run_id": uuid.UUID(claim.run_id),
    }


def graph_modes(requested) -> list[str]:
    modes = [GRAPH_MODE[mode] for mode in requested or ["values"] if mode in GRAPH_MODE]
    return list(dict.fromkeys([*modes, *SERVER_MODES]))


def graph_input(claim: ClaimedRun):
    if claim.resume:
        return None
    command = claim.kwargs.get("command")
    if command:
        return Command(**command)
    return claim.input


async def drive(active: ActiveRun, *, worker_id: str, run_sync) -> Outcome:
    """Run the graph to its end, to an interrupt() or to cancellation."""
    claim = active.claim
    config = run_config(claim)
    saver = RunSaver(
        thread_id=claim.thread_id,
        run_id=claim.run_id,
        worker_id=worker_id,
        cancelled=active.cancelled.is_set,
        queue_writes=claim.kwargs.get("durability") != "sync",
        hold_seconds=settings.RUNS_CHECKPOINT_DELAY_SECONDS,
        head=claim.head,
        run_sync=run_sync,
        close_connections=False,
    )
    active.saver = saver
    try:
        outcome = await _drive(active, config, saver, run_sync)
    finally:
        saver.stop_flushing()  # what it holds is stored with the run's end
    outcome.head = saver.latest
    if outcome.state_writes is None:
        # The tasks' writes still queued (RunSaver.queue_writes): those of a
        # step cut short, which no checkpoint of the run will follow.
        outcome.state_writes = saver.write_queued
    return outcome


async def _drive(active: ActiveRun, config: dict, saver: RunSaver, run_sync) -> Outcome:
    claim = active.claim
    # The run's thread owner's long-term memory (LangGraph's store).
    store = DjangoStore(claim.owner_id, run_sync=run_sync, close_connections=False)
    try:
        async with graph_for(claim.graph_id, config, checkpointer=saver, store=store) as graph:
            if await _consume(active, _stream(graph, claim, config)):
                return Outcome(RunStatus.SUCCESS, pending=active.stopped_at_interrupt)
            if active.action != CancelAction.INTERRUPT:
                return _cancelled(active, None)
            kept = await _keep_partial(active, graph, config, saver)
            outcome = _cancelled(active, kept)
            if kept is not None:
                outcome.state_writes = saver.write_deferred
            return outcome
    except RunCancelled:
        # The database said so before the signal came (or it was lost).
        active.cancel(CancelAction.INTERRUPT)
        return _cancelled(active, None)
    except GraphLoadError as error:
        logger.error("run %s: %s", claim.run_id, error)
        return Outcome(RunStatus.ERROR, {"error": "GraphLoadError", "message": str(error)})
    except Exception as error:
        logger.exception("graph failed in run %s", claim.run_id)
        return Outcome(RunStatus.ERROR, {"error": type(error).__name__, "message": str(error)})


def _stream(graph, claim: ClaimedRun, config: dict):
    """The graph's stream: (ns, mode, chunk) parts, or (mode, chunk) without
    subgraphs. With the `events` mode, LangChain's event stream, whose root
    `on_chain_stream` events carry the other modes' parts."""
    requested = claim.kwargs.get("stream_mode") or []
    options = {
        "context": claim.kwargs.get("context"),
        "stream_mode": graph_modes(requested),
        "subgraphs": bool(claim.kwargs.get("stream_subgraphs")),
        "interrupt_before": claim.kwargs.get("interrupt_before"),
        "interrupt_after": claim.kwargs.get("interrupt_after"),
        "durability": claim.kwargs.get("durability"),
    }
    if EVENTS not in requested:
        return graph.astream(graph_input(claim), config, **options)
    return _events(graph.astream_events(graph_input(claim), config, version="v2", **options), claim)


async def _events(events, claim: ClaimedRun):
    try:
        async for event in events:
            if event["event"] == "on_chain_stream" and event["run_id"] == claim.run_id:
                yield event["data"]["chunk"]
            else:
                yield (), EVENTS, event
    finally:
        await events.aclose()


def _latest(config: dict) -> dict:
    """The config that reads the thread's latest state (not a fork's origin)."""
    configurable = {k: v for k, v in config["configurable"].items() if k != "checkpoint_id"}
    return {**config, "configurable": configurable}


def _cancelled(active: ActiveRun, kept: dict | None) -> Outcome:
    if active.action == CancelAction.ROLLBACK:
        return Outcome(protocol.Lifecycle.ROLLED_BACK)
    return Outcome(RunStatus.INTERRUPTED, partial_message=kept)


async def _consume(active: ActiveRun, stream) -> bool:
    """Publish the stream's parts until it ends (True) or the run is cancelled
    (False). The graph's exceptions propagate.

    The parts are read and published by a task of their own, which the
    cancel signal cancels when it is waiting for the graph's next part
    (`ActiveRun.cancel`): that cancels the node that streams, within one
    token, and never a publish half done. Racing each part against the
    signal instead (a task and an `asyncio.wait` per token) was ~0.4 ms of a
    40-token run's CPU."""

    async def pump() -> bool:
        while not active.cancelled.is_set():
            active.awaiting_part = True
            try:
                part = await anext(stream)
            except StopAsyncIteration:
                return True
            finally:
                active.awaiting_part = False
            if active.cancelled.is_set():
                return False
            await _publish(active, part)
        return False

    pumping = asyncio.ensure_future(pump())
    active.pump = pumping
    try:
        await asyncio.wait({pumping})
        if active.pump_cancelled:
            # However the graph took it: cancelled, or a write refused.
            error = None if pumping.cancelled() else pumping.exception()
            if error is not None and not isinstance(error, RunCancelled):
                raise error
            return False
        return pumping.result()
    finally:
        active.pump = None
        if not pumping.done():  # we were cancelled ourselves
            pumping.cancel()
            with contextlib.suppress(BaseException):
                await pumping
        with contextlib.suppress(Exception):
            await stream.aclose()


async def _publish(active: ActiveRun, part) -> None:
    if len(part) == 3:
        ns, mode, chunk = part
    else:
        (mode, chunk), ns = part, ()
    index = None
    if not ns and mode == "messages":
        index = _track_token(active, chunk)
    elif not ns and mode == "updates":
        _track_step(active, chunk)
    active.seq += 1
    claim = active.claim
    resumable = claim.kwargs.get("stream_resumable")
    if not resumable and not heard(protocol.thread_group(claim.thread_id)):
        return  # no one streams the thread: nothing to convert (runs.bus.publish)
    event = protocol.part_event(
        claim.thread_id,
        claim.run_id,
        mode=mode,
        ns=ns,
        data=_part_data(active, mode, chunk),
        seq=active.seq,
        index=index,
    )
    if resumable:
        await event_log.log().append(claim.run_id, event)
    # Not waiting for it to go out: the next part joins its round trip.
    await publish_soon(event)


def _part_data(active: ActiveRun, mode: str, chunk):
    """The part as JSON; a token's metadata converted once per model call."""
    if mode != "messages" or type(chunk) is not tuple or len(chunk) != 2:
        return jsonable(chunk)
    message, metadata = chunk
    if not isinstance(metadata, dict):
        return jsonable(chunk)
    if active.token_metadata is None or active.token_metadata[0] is not metadata:
        active.token_metadata = (metadata, jsonable(metadata))
    return [jsonable(message), active.token_metadata[1]]


def _track_token(active: ActiveRun, chunk) -> int | None:
    message, metadata = chunk
    if not isinstance(message, AIMessageChunk):
        return None
    if active.partial is None or active.partial.message_id != message.id:
        node = (metadata or {}).get("langgraph_node", "model")
        active.partial = Partial(message.id, node)
    return active.partial.add(message)


def _track_step(active: ActiveRun, update) -> None:
    """A node finished: the message it streamed is in the state now."""
    if not isinstance(update, dict):
        return
    if INTERRUPT_KEY in update:
        active.stopped_at_interrupt = True
    if active.partial is None:
        return
    for written in update.values():
        messages = written.get("messages") if isinstance(written, dict) else None
        if isinstance(messages, list | tuple) and any(
            getattr(m, "id", None) == active.partial.message_id for m in messages
        ):
            active.partial = None
            return


async def _keep_partial(active: ActiveRun, graph, config: dict, saver: RunSaver) -> dict | None:
    """Update the state with the interrupted answer, as its node would have;
    the update's writes wait in the saver for finish_run's transaction.
    Returns the answer as JSON, or None when there was none or it could not be kept."""
    partial = active.partial
    if partial is None or not partial.text or "messages" not in graph.channels:
        return None
    message = partial.message()
    saver.defer_writes()
    update_config = _latest(config)
    update_config["metadata"] = {**config["metadata"], "interrupted": True}
    try:
        await graph.aupdate_state(update_config, {"messages": [message]}, as_node=partial.node)
    except Exception:
        logger.exception("run %s: could not keep the interrupted answer", active.claim.run_id)
        return None
    return jsonable(message)
