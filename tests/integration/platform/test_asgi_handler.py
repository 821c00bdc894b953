"""chatapp/platform/asgi_handler.py: a request's sync part (signals, middleware,
view, rendering, closing) in one hop to a request thread, as Daphne serves it.
Responses must be what Django's own ASGI handler gives: JSON, errors, cookies,
streamed bodies, a client that goes away."""

import json

import pytest
from asgiref.sync import SyncToAsync
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler

from chatapp.platform.asgi_handler import OneHopASGIHandler
from runs.models import UserAPIKey
from tests.conftest import make_user, orm


@pytest.fixture(autouse=True)
def static_root(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.WHITENOISE_AUTOREFRESH = False  # as in production (DEBUG off)


@pytest.fixture
def hops(monkeypatch):
    """Calls handed from async code to a sync thread, by function name:
    asgiref's `sync_to_async`, and the one-hop handler's own."""
    calls = []
    original = SyncToAsync.__call__
    in_thread = OneHopASGIHandler.in_thread

    async def counted(self, *args, **kwargs):
        calls.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    async def counted_in_thread(self, func, *args):
        calls.append(func.__qualname__)
        return await in_thread(self, func, *args)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    monkeypatch.setattr(OneHopASGIHandler, "in_thread", counted_in_thread)
    return calls


def scope(path: str, method: str = "GET", headers=(), client="127.0.0.1") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": (client, 50000),
        "server": ("127.0.0.1", 8000),
    }


async def request(app, path: str, method="GET", body=b"", headers=(), client="127.0.0.1"):
    """Status, headers and body of one request through `app`."""
    headers = [*headers, (b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(body)).encode()))
    comm = ApplicationCommunicator(app, scope(path, method, headers, client))
    await comm.send_input({"type": "http.request", "body": body})
    start = await comm.receive_output(10)
    chunks = []
    while True:
        message = await comm.receive_output(10)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await comm.wait(10)
    return start["status"], dict(start["headers"]), b"".join(chunks)


@pytest.mark.django_db(transaction=True)
async def test_a_request_is_one_hop_to_a_thread(hops):
    status, headers, body = await request(OneHopASGIHandler(), "/info")
    assert status == 200
    assert json.loads(body)["flags"]["assistants"] is True
    assert hops == ["OneHopASGIHandler.respond"], hops
    hops.clear()
    # Django's own handler, the same request: a hop per signal, sync middleware
    # hook, the view and its rendering.
    assert (await request(ASGIHandler(), "/info"))[0] == 200
    assert len(hops) >= 8, hops


@pytest.mark.django_db(transaction=True)
async def test_errors_and_authentication_are_answered_as_before():
    app = OneHopASGIHandler()
    _, key = await orm(lambda: UserAPIKey.objects.create_key(user=make_user("alice"), name="k"))()
    elsewhere = "203.0.113.9"
    status, _, body = await request(app, "/threads/search", "POST", b"{}", client=elsewhere)
    assert status == 401, body
    good = [(b"x-api-key", key.encode())]
    status, _, body = await request(app, "/threads/search", "POST", b"{}", good, elsewhere)
    assert (status, json.loads(body)) == (200, [])
    refused = [
        await request(a, "/threads", "POST", b'{"ttl": 5}', good, elsewhere)
        for a in (app, ASGIHandler())
    ]
    assert refused[0][0] == 422 and refused[0][2] == refused[1][2], refused
    assert (await request(app, "/no/such/path"))[0] == 404


@pytest.mark.django_db(transaction=True)
async def test_the_request_threads_keep_their_database_connection(settings):
    """SQLite keeps a connection per request thread (CONN_MAX_AGE None): a
    request does not open one."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL borrows pooled connections instead")
    app = OneHopASGIHandler()
    app.threads._max_workers = 1  # one thread, so the second request finds the first's

    def connection_id():
        return id(connection.connection)

    seen = set()
    for _ in range(3):
        assert (await request(app, "/ok"))[0] == 200
        seen.add(await app.in_thread(connection_id))
    assert len(seen) == 1 and None not in seen


@pytest.mark.django_db(transaction=True)
async def test_a_streamed_body_is_sent_from_the_loop_then_closed(settings):
    """A static file is a streamed response: sent from the loop, closed (the
    request_finished signal) after its last chunk."""
    from django.core import signals

    settings.WHITENOISE_USE_FINDERS = True
    finished = []

    def on_finished(**kwargs):
        finished.append(1)

    signals.request_finished.connect(on_finished)
    try:
        status, _, body = await request(OneHopASGIHandler(), "/static/doubletext/chat.js")
    finally:
        signals.request_finished.disconnect(on_finished)
    assert status == 200
    assert body == (settings.BASE_DIR / "static/doubletext/chat.js").read_bytes()
    assert finished == [1]


async def test_a_client_that_goes_away_cancels_the_response():
    app = OneHopASGIHandler()
    comm = ApplicationCommunicator(app, scope("/ok"))
    await comm.send_input({"type": "http.request", "body": b"", "more_body": True})
    await comm.send_input({"type": "http.disconnect"})
    await comm.wait(10)  # returns, having sent nothing
    assert await comm.receive_nothing(0.1)


@pytest.mark.django_db(transaction=True)
async def test_a_body_in_parts_reads_as_one_in_one_message():
    """A body in one message is read from memory; one in parts is spooled as
    Django does: the view sees the same body either way."""
    app = OneHopASGIHandler()
    payload = json.dumps({"metadata": {"topic": "x" * 3000}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    answers = []
    for parts in ([payload], [payload[:10], payload[10:2000], payload[2000:]]):
        comm = ApplicationCommunicator(app, scope("/threads", "POST", headers))
        for i, part in enumerate(parts):
            more = i < len(parts) - 1
            await comm.send_input({"type": "http.request", "body": part, "more_body": more})
        start = await comm.receive_output(10)
        body = await comm.receive_output(10)
        await comm.wait(10)
        answers.append((start["status"], json.loads(body["body"])["metadata"]))
    assert answers[0] == answers[1] == (200, {"topic": "x" * 3000}), answers


@pytest.mark.django_db(transaction=True)
async def test_only_a_streamed_response_listens_for_the_client_going_away(monkeypatch, settings):
    """A response made and closed in the request thread has nothing left to
    cancel: no task listens for a disconnect (a task per request on the loop
    the runs stream on); a streamed one is raced against it."""
    settings.WHITENOISE_USE_FINDERS = True
    listened = []
    listen = OneHopASGIHandler.listen_for_disconnect

    async def counted(self, receive):
        listened.append(1)
        return await listen(self, receive)

    monkeypatch.setattr(OneHopASGIHandler, "listen_for_disconnect", counted)
    app = OneHopASGIHandler()
    assert (await request(app, "/info"))[0] == 200
    assert listened == []
    assert (await request(app, "/static/doubletext/chat.js"))[0] == 200
    assert listened == [1]
