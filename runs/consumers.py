"""The chat websocket: one connection per thread at /ws/threads/<id>/.

Client → server frames:
  {"type": "message", "content": "...", "strategy": "reject|enqueue|interrupt|rollback",
   "config": {...optional run config...}}
  {"type": "cancel", "action": "interrupt|rollback", "run_id": "...optional..."}
  {"type": "ping"}

Server → client frames:
  {"type": "state", "thread_id", "messages": [...], "runs": [...], "active": {...}|null}
      on connect, and after a rollback (the client reconciles its page with it)
  {"type": "run", "event": "created|started|interrupting|interrupted|rolled_back|
      success|error", "run": {...}, "partial_message"?: {...}, "error"?: {...}}
  {"type": "token", "run_id", "message_id", "text", "index"}  (index: position in the message)
  {"type": "messages", "run_id", "node", "messages": [...]}   (a finished step)
  {"type": "partial", "run_id", "message_id", "text", "count"} (what streamed before we
      attached: `count` tokens; later token frames with a lower index are already in it)
  {"type": "error", "error", "detail", "field"?, "rejected"?: true, "content"?: "...",
   "retry_after"?: seconds}
      `rejected`: the message was not sent (strategy reject, or the rate limit);
      `content` gives its text back
  {"type": "pong"}

Who may connect: the signed-in user (session) or the owner of an API key
(an `x-api-key` header on the handshake) to their own threads, or, in the
local demo (runs.access), a client on this machine. Close codes: 4401 not
signed in, 4404 no such thread of this user (another user's thread included),
1008 too many frames, 1009 a frame over settings.RUNS_MAX_FRAME_BYTES.

Thin adapter: it parses frames, calls runs.strategies (the same service as
the REST API) and renders events. A bad frame gets an error frame; the
connection stays open.
"""

import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from runs import access, events, state, strategies, throttling
from runs.exceptions import InvalidRequest, RateLimited, RunsError, ThreadBusy
from runs.models import Run, RunStatus
from runs.payloads import PayloadError, check_json
from runs.representation import run_dict

TIMELINE_LENGTH = 50
CLOSE_NOT_SIGNED_IN = 4401
CLOSE_THREAD_NOT_FOUND = 4404
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009


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
        return access.api_key_user(key.decode("latin-1"))
    client = scope.get("client") or [None]
    return access.demo_user_for(client[0])


@database_sync_to_async
def owns_thread(user, thread_id) -> bool:
    return access.owns_thread(user, thread_id)


@database_sync_to_async
def run_creation_wait(user) -> float | None:
    return throttling.run_creation_wait(user)


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
def thread_snapshot(thread_id) -> dict:
    messages = state.thread_messages(thread_id)
    runs = list(Run.objects.filter(thread_id=thread_id).order_by("-seq")[:TIMELINE_LENGTH])
    active = next((r for r in runs if r.status == RunStatus.RUNNING), None)
    return {
        "type": "state",
        "thread_id": str(thread_id),
        "messages": messages,
        "runs": [run_dict(r) for r in reversed(runs)],
        "active": run_dict(active) if active else None,
    }


class ThreadConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.rolled_back: set[str] = set()
        self.closing = False
        self.budget = FrameBudget(settings.RUNS_WS_BURST, settings.RUNS_WS_FRAMES_PER_SECOND)
        self.user = await connecting_user(self.scope)
        if self.user is None:
            await self.turn_away(CLOSE_NOT_SIGNED_IN)
            return
        thread_id = self.scope["url_route"]["kwargs"]["thread_id"]
        if not await owns_thread(self.user, thread_id):
            await self.turn_away(CLOSE_THREAD_NOT_FOUND)
            return
        # The canonical form: the one the executor names the thread's group with.
        self.thread_id = str(state.parse_id(thread_id, field="thread_id"))
        self.group = events.thread_group(self.thread_id)
        # Subscribe first, then read the state: nothing falls in between.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        snapshot = await thread_snapshot(self.thread_id)
        await self.send_json(snapshot)
        if snapshot["active"]:
            await self.channel_layer.group_send(
                events.run_control_group(snapshot["active"]["run_id"]),
                {
                    "type": "run.snapshot",
                    "run_id": snapshot["active"]["run_id"],
                    "reply_channel": self.channel_name,
                },
            )

    async def turn_away(self, code: int):
        """Accept, then close with `code`: a close before the handshake is
        answered would reach the browser as a bare HTTP 403 (close code 1006),
        and the page could not tell "sign in" from "no such thread"."""
        self.closing = True
        await self.accept()
        await self.close(code=code)

    async def dispatch(self, message):
        # Channels runs close_old_connections() on the process's shared sync
        # thread before every handler: a thread hop per streamed token, per
        # chat, all queued on that one thread (py-spy: the largest item of the
        # event loop after the layer's cleanup, and the tail of the token
        # latency). Our handlers reach the database only through
        # database_sync_to_async, which does that itself: skip it for events.
        kind = message.get("type")
        if kind == "run.event":
            await self.run_event(message)
        elif kind == "run.snapshot_reply":
            await self.run_snapshot_reply(message)
        else:
            await super().dispatch(message)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # -- client frames -----------------------------------------------------------

    async def refuse(self, code: str, detail: str, close_code: int):
        """An error frame, then close: what follows from the client is ignored."""
        self.closing = True
        await self.error(code, detail)
        await self.close(code=close_code)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.closing:
            return
        if not self.budget.take():
            await self.refuse("rate_limited", "Too many frames.", CLOSE_POLICY_VIOLATION)
            return
        if bytes_data is not None:
            await self.error("invalid_frame", "Binary frames are not supported; send JSON text.")
            return
        limit = settings.RUNS_MAX_FRAME_BYTES
        if len((text_data or "").encode()) > limit:
            await self.refuse("frame_too_large", f"Frames may be {limit} bytes.", CLOSE_TOO_BIG)
            return
        try:
            content = json.loads(text_data or "")
        except (TypeError, ValueError, RecursionError):
            await self.error("invalid_frame", "Frames must be JSON objects.")
            return
        if not isinstance(content, dict):
            await self.error("invalid_frame", "Frames must be JSON objects.")
            return
        try:
            check_json(content)
        except PayloadError as error:
            await self.error("invalid_frame", error.message, field=error.field)
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        handlers = {"message": self.on_message, "cancel": self.on_cancel, "ping": self.on_ping}
        handler = handlers.get(content.get("type"))
        if handler is None:
            await self.error(
                "invalid_frame",
                f"Unknown frame type {content.get('type')!r}; use message, cancel or ping.",
                field="type",
            )
            return
        try:
            await handler(content)
        except (ThreadBusy, RateLimited) as error:
            # The message was not sent: give its text back to the page.
            await self.send_json(
                {**self.error_body(error), "rejected": True, "content": content.get("content")}
            )
        except RunsError as error:
            await self.send_json(self.error_body(error))

    async def on_message(self, content):
        text = content.get("content")
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequest("content must be a non-empty string.", field="content")
        wait = await run_creation_wait(self.user)
        if wait is not None:
            raise RateLimited(
                f"Too many messages; try again in {wait:.0f} s.", retry_after=round(wait, 1)
            )
        await database_sync_to_async(strategies.create_run)(
            self.thread_id,
            assistant_id=content.get("assistant_id") or "agent",
            input={"messages": [{"role": "user", "content": text}]},
            multitask_strategy=content.get("strategy"),
            config=content.get("config"),
            owner=self.user,
        )

    async def on_cancel(self, content):
        action = content.get("action")
        run_id = content.get("run_id")
        if run_id is not None:
            await database_sync_to_async(strategies.cancel_run)(
                self.thread_id, run_id, action=action, owner=self.user
            )
        else:
            await database_sync_to_async(strategies.cancel_thread_runs)(
                self.thread_id, action=action, owner=self.user
            )

    async def on_ping(self, content):
        await self.send_json({"type": "pong"})

    def error_body(self, error: RunsError) -> dict:
        return {"type": "error", **error.as_dict()}

    async def error(self, code: str, detail: str, field: str | None = None):
        body = {"type": "error", "error": code, "detail": detail}
        if field:
            body["field"] = field
        await self.send_json(body)

    # -- channel-layer events ----------------------------------------------------

    async def run_event(self, message):
        kind, data, run_id = message["kind"], message["data"], message["run_id"]
        if run_id in self.rolled_back:
            # A token already on its way when the run was rolled back: drop it.
            return
        if kind == events.TOKEN:
            await self.send_json(
                {
                    "type": "token",
                    "run_id": run_id,
                    "message_id": data["message_id"],
                    "text": data["text"],
                    "index": data.get("index"),
                    "ts": data.get("ts"),
                }
            )
        elif kind == events.STEP:
            await self.send_json(
                {
                    "type": "messages",
                    "run_id": run_id,
                    "node": data["node"],
                    "messages": (data.get("update") or {}).get("messages", []),
                }
            )
        elif kind == events.LIFECYCLE:
            frame = {"type": "run", "event": data["status"], "run": data["run"]}
            for key in ("partial_message", "error"):
                if data.get(key):
                    frame[key] = data[key]
            await self.send_json(frame)
            if data["status"] == "rolled_back":
                self.rolled_back.add(run_id)
                # The page must drop what the run had shown: send the state as it now is.
                await self.send_json(await thread_snapshot(self.thread_id))

    async def run_snapshot_reply(self, message):
        partial = message.get("partial")
        if partial:
            await self.send_json({"type": "partial", "run_id": message["run_id"], **partial})
