"""The chat websocket: one connection per thread at /ws/threads/<id>/.

Frames: runs.ws.frames. Who may connect: the signed-in user (session) or the
owner of an API key (an `x-api-key` header on the handshake) to their own
threads, or, in the local demo (runs.services.accounts), a client on this
machine.

Thin adapter: it parses frames, calls runs.services as the connection's user
(the same services as the REST API) and renders bus events as frames. A bad
frame gets an error frame; the connection stays open.
"""

import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from chatapp.platform.channels_dispatch import DirectDispatchMixin
from runs.bus import protocol
from runs.graphs.serialization import INTERRUPT_KEY, message_text
from runs.models import RunStatus
from runs.services import accounts, chat_messages, metrics, rate_limit, runs, state, threads
from runs.services.errors import InvalidRequest, RateLimited, RunsError, ThreadBusy
from runs.services.ids import parse_id
from runs.ws import frames
from runs.ws.frames import ClientFrame, FrameError

TIMELINE_LENGTH = 50


@database_sync_to_async
def connecting_user(scope):
    """The user a connection acts as: the session's, the API key's (an
    `x-api-key` header on the handshake, for clients other than browsers),
    or the local demo's. None if it is none of them, or the key is bad."""
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return user
    key = dict(scope.get("headers") or []).get(b"x-api-key")
    if key is not None:
        return accounts.api_key_user(key.decode("latin-1"))
    client = scope.get("client") or [None]
    return accounts.demo_user_for(client[0])


@database_sync_to_async
def sees_thread(user, thread_id) -> bool:
    return threads.is_visible(thread_id, actor=user)


@database_sync_to_async
def run_creation_wait(user) -> float | None:
    return rate_limit.run_creation_wait(user)


class FrameBudget:
    """A token bucket: `burst` frames at once, refilled at `rate` per second."""

    def __init__(self, burst: int, rate: float):
        self.burst, self.rate = burst, rate
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@database_sync_to_async
def thread_snapshot(thread_id, user) -> dict:
    thread = threads.get_thread(thread_id, actor=user)
    messages = state.thread_messages(thread_id, actor=user)
    timeline = runs.timeline(thread_id, actor=user, limit=TIMELINE_LENGTH)
    active = next((r for r in timeline if r["status"] == RunStatus.RUNNING), None)
    if active is not None:
        # The running run's input may not be checkpointed yet (its `started`
        # came before this connection): the page shows it as sent either way.
        known = {m.get("id") for m in messages}
        given = (active["kwargs"].get("input") or {}).get("messages") or []
        messages += [m for m in given if m.get("id") not in known]
    return frames.state(
        thread_id,
        messages,
        timeline,
        active,
        status=thread.status,
        interrupts=[i for pending in thread.interrupts.values() for i in pending],
        graph_id=thread.metadata.get("graph_id"),
        assistant_id=thread.metadata.get("assistant_id"),
    )


def part_frames(run_id, part: protocol.PartData):
    """Frames for a part of the graph's stream: its tokens (`messages`) and its
    finished steps (`updates`: the messages each node wrote, interrupts)."""
    if part["mode"] == "messages" and part.get("index") is not None:
        message, _ = part["data"]
        text = message_text(message.get("content"))
        yield frames.token(run_id, message.get("id"), text, part["index"], part.get("ts"))
    elif part["mode"] == "updates" and isinstance(part["data"], dict):
        for node, update in part["data"].items():
            if node == INTERRUPT_KEY:
                yield frames.interrupt(run_id, update)
            elif isinstance(update, dict) and isinstance(update.get("messages"), list):
                yield frames.step_messages(run_id, node, update["messages"])
            else:
                yield frames.update(run_id, node, update)


class ThreadConsumer(DirectDispatchMixin, AsyncJsonWebsocketConsumer):
    # Our handlers of bus messages reach the database only through
    # database_sync_to_async (chatapp/platform/channels_dispatch.py).
    direct_dispatch = frozenset(
        {protocol.MessageType.RUN_EVENT, protocol.MessageType.SNAPSHOT_REPLY}
    )

    async def connect(self):
        self.rolled_back: set[str] = set()
        self.closing = False
        self.budget = FrameBudget(settings.RUNS_WS_BURST, settings.RUNS_WS_FRAMES_PER_SECOND)
        self.user = await connecting_user(self.scope)
        if self.user is None:
            await self.turn_away(frames.CLOSE_NOT_SIGNED_IN)
            return
        thread_id = self.scope["url_route"]["kwargs"]["thread_id"]
        if not await sees_thread(self.user, thread_id):
            await self.turn_away(frames.CLOSE_THREAD_NOT_FOUND)
            return
        # The canonical form: the one the executor names the thread's group with.
        self.thread_id = str(parse_id(thread_id, field="thread_id"))
        self.group = protocol.thread_group(self.thread_id)
        # Subscribe first, then read the state: nothing falls in between.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        metrics.websockets.inc()
        self.counted = True
        snapshot = await thread_snapshot(self.thread_id, self.user)
        await self.send_json(snapshot)
        if snapshot["active"]:
            run_id = snapshot["active"]["run_id"]
            await self.channel_layer.group_send(
                protocol.run_control_group(run_id),
                protocol.snapshot_request(run_id, self.channel_name),
            )

    async def turn_away(self, code: int):
        """Accept, then close with `code`: a close before the handshake is
        answered would reach the browser as a bare HTTP 403 (close code 1006),
        and the page could not tell "sign in" from "no such thread"."""
        self.closing = True
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            metrics.websockets.dec()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # -- client frames -----------------------------------------------------------

    async def refuse(self, code: str, detail: str, close_code: int):
        """An error frame, then close: what follows from the client is ignored."""
        self.closing = True
        await self.send_json(frames.error(code, detail))
        await self.close(code=close_code)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.closing:
            return
        if not self.budget.take():
            await self.refuse("rate_limited", "Too many frames.", frames.CLOSE_POLICY_VIOLATION)
            return
        limit = settings.RUNS_MAX_FRAME_BYTES
        if bytes_data is None and len((text_data or "").encode()) > limit:
            await self.refuse(
                "frame_too_large", f"Frames may be {limit} bytes.", frames.CLOSE_TOO_BIG
            )
            return
        try:
            content = frames.parse(text_data, bytes_data)
        except FrameError as error:
            await self.send_json(frames.error("invalid_frame", error.detail, field=error.field))
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        handlers = {
            ClientFrame.MESSAGE: self.on_message,
            ClientFrame.CANCEL: self.on_cancel,
            ClientFrame.PING: self.on_ping,
        }
        try:
            await handlers[content["type"]](content)
        except (ThreadBusy, RateLimited) as error:
            # The message was not sent: give its text back to the page.
            await self.send_json(
                frames.service_error(error, rejected=True, content=content.get("content"))
            )
        except RunsError as error:
            await self.send_json(frames.service_error(error))

    async def on_message(self, content):
        kwargs = {}
        if "command" in content:
            # Resuming a run stopped at interrupt(): the page answers with a value.
            kwargs["command"] = frames.resume_command(content["command"])
            run_input = None
        elif "input" in content:
            run_input = content["input"]
        else:
            run_input = chat_messages.user_input(content.get("content"), field="content")
        checkpoint_id = content.get("checkpoint_id")
        if checkpoint_id is not None and not isinstance(checkpoint_id, str):
            raise InvalidRequest("checkpoint_id must be a string.", field="checkpoint_id")
        wait = await run_creation_wait(self.user)
        if wait is not None:
            raise RateLimited(
                f"Too many messages; try again in {wait:.0f} s.", retry_after=round(wait, 1)
            )
        await database_sync_to_async(runs.create_run)(
            self.thread_id,
            actor=self.user,
            assistant_id=content.get("assistant_id") or "agent",
            input=run_input,
            multitask_strategy=content.get("strategy"),
            config=content.get("config"),
            kwargs=kwargs,
            checkpoint_id=checkpoint_id,
        )

    async def on_cancel(self, content):
        action = content.get("action")
        run_id = content.get("run_id")
        if run_id is not None:
            await database_sync_to_async(runs.cancel_run)(
                self.thread_id, run_id, actor=self.user, action=action
            )
        else:
            await database_sync_to_async(runs.cancel_thread_runs)(
                self.thread_id, actor=self.user, action=action
            )

    async def on_ping(self, content):
        await self.send_json(frames.pong())

    # -- bus messages ------------------------------------------------------------

    async def run_event(self, message: protocol.RunEvent):
        kind, data, run_id = message["kind"], message["data"], message["run_id"]
        if run_id in self.rolled_back:
            # A token already on its way when the run was rolled back: drop it.
            return
        if kind == protocol.EventKind.PART:
            if not data.get("ns"):  # the chat shows the top-level graph
                for frame in part_frames(run_id, data):
                    await self.send_json(frame)
        elif kind == protocol.EventKind.LIFECYCLE:
            await self.send_json(
                frames.run(
                    data["status"],
                    data["run"],
                    partial_message=data.get("partial_message"),
                    error=data.get("error"),
                )
            )
            if data["status"] == protocol.Lifecycle.STARTED:
                # Its input is in the thread now: the page shows the message as sent.
                given = ((data["run"].get("kwargs") or {}).get("input") or {}).get("messages")
                if given:
                    await self.send_json(frames.step_messages(run_id, frames.INPUT_NODE, given))
            if data["status"] == protocol.Lifecycle.ROLLED_BACK:
                self.rolled_back.add(run_id)
                # The page must drop what the run had shown: send the state as it now is.
                await self.send_json(await thread_snapshot(self.thread_id, self.user))

    async def run_snapshot_reply(self, message: protocol.SnapshotReply):
        if message.get("partial"):
            await self.send_json(frames.partial(message["run_id"], message["partial"]))
