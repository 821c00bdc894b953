"""Nobody sees another's threads: the cross-user matrix over every REST
endpoint (a real server, real API keys) and the websocket.

Bob holds a valid key, and tries every endpoint on Alice's thread, run and
checkpoint: each answers 404, exactly like a missing id, and nothing of
Alice's changes. Alice gets 2xx from the same requests (so the 404s are not
bad URLs), and a client without credentials gets 401.
"""

import json

import httpx
import pytest
from django.urls import URLPattern

from checkpoints.models import Checkpoint
from runs.api import urls as api_urls
from runs.models import Run, RunStatus, Thread, UserAPIKey
from runs.services import runs as run_service
from runs.services import threads
from runs.services.accounts import local_demo_user
from tests.conftest import FAST, make_thread, make_user, orm, wait_status
from tests.integration.ws.test_consumer import communicator, turned_away
from tests.live_server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

T, R, C = "{t}", "{r}", "{c}"
RUN = {"assistant_id": "agent", "input": {"messages": ["hi"]}, "config": FAST}

# (method, path, body): every endpoint that names a thread, in an order that
# Alice can run through (deleting comes last).
THREAD_ENDPOINTS = [
    ("GET", f"/threads/{T}", None),
    ("PATCH", f"/threads/{T}", {"metadata": {"taken": "yes"}}),
    ("GET", f"/threads/{T}/state", None),
    ("POST", f"/threads/{T}/state", {"values": {"messages": ["injected"]}}),
    ("GET", f"/threads/{T}/state/{C}", None),
    ("POST", f"/threads/{T}/state/checkpoint", {"checkpoint": {"checkpoint_id": C}}),
    ("GET", f"/threads/{T}/history", None),
    ("POST", f"/threads/{T}/history", {"limit": 5}),
    ("GET", f"/threads/{T}/stream", None),
    ("GET", f"/threads/{T}/runs", None),
    ("POST", f"/threads/{T}/runs", RUN),
    ("POST", f"/threads/{T}/runs/stream", RUN),
    ("POST", f"/threads/{T}/runs/wait", RUN),
    ("GET", f"/threads/{T}/runs/{R}", None),
    ("GET", f"/threads/{T}/runs/{R}/join", None),
    ("GET", f"/threads/{T}/runs/{R}/stream", None),
    ("POST", f"/threads/{T}/runs/{R}/cancel?action=rollback", None),
    ("DELETE", f"/threads/{T}/runs/{R}", None),
    ("POST", f"/threads/{T}/copy", None),
    ("POST", f"/threads/{T}/runs/crons", {"assistant_id": "agent", "schedule": "0 0 1 1 *"}),
    ("DELETE", f"/threads/{T}", None),
]


def routes_naming_a_thread() -> set[tuple[str, str]]:
    """(METHOD, route) of every API route with a thread id, from the URLconf."""
    found = set()
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        if "<str:thread_id>" not in route:
            continue
        view = pattern.callback.view_class
        names = pattern.callback.view_initkwargs.get("http_method_names", view.http_method_names)
        for method in names:
            if method not in ("options", "head") and hasattr(view, method):
                found.add((method.upper(), route))
    return found


def as_route(path: str) -> str:
    route = path.split("?")[0].lstrip("/")
    route = route.replace(T, "<str:thread_id>").replace(R, "<str:run_id>")
    return route.replace(C, "<str:checkpoint_id>")


def test_the_matrix_covers_every_endpoint_that_names_a_thread():
    covered = {(method, as_route(path)) for method, path, _ in THREAD_ENDPOINTS}
    assert covered == routes_naming_a_thread()


def make_key(username: str) -> str:
    return UserAPIKey.objects.create_key(user=make_user(username), name="test")[1]


@pytest.fixture
def server(transactional_db):
    # No local demo: a request without credentials is refused even from 127.0.0.1.
    live = LiveServer(env={"LOCAL_DEMO": "false"})
    yield live.url
    live.stop()


async def alices_thread(api: httpx.AsyncClient) -> dict:
    """Alice's thread with one finished run; the ids the matrix needs."""
    thread = (await api.post("/threads", json={"metadata": {"owner": "alice"}})).json()
    tid = thread["thread_id"]
    run = (await api.post(f"/threads/{tid}/runs", json=RUN)).json()
    await wait_status(run["run_id"], RunStatus.SUCCESS, timeout=15)
    checkpoint = (await api.get(f"/threads/{tid}/state")).json()["checkpoint"]
    return {"t": tid, "r": run["run_id"], "c": checkpoint["checkpoint_id"]}


def snapshot(thread_id) -> tuple:
    thread = Thread.objects.get(pk=thread_id)
    runs = list(Run.objects.filter(thread=thread).values_list("pk", "status"))
    return thread.metadata, runs, Checkpoint.objects.filter(thread_id=str(thread.pk)).count()


async def call(api, method, path, body, ids):
    if path.endswith(f"{T}/stream"):
        # A thread's stream never ends by itself: its status and first bytes will do.
        async with api.stream(method, path.format(**ids), timeout=20) as response:
            if response.status_code >= 300:
                await response.aread()  # the JSON error
            return response
    if body is not None:  # ids in the body too ({"checkpoint": {"checkpoint_id": C}})
        body = json.loads(json.dumps(body).replace(C, ids["c"]))
    return await api.request(method, path.format(**ids), json=body, timeout=20)


async def test_another_users_ids_answer_404_and_change_nothing(server):
    alice_key, bob_key = await orm(make_key)("alice"), await orm(make_key)("bob")
    alice = httpx.AsyncClient(base_url=server, headers={"x-api-key": alice_key})
    bob = httpx.AsyncClient(base_url=server, headers={"x-api-key": bob_key})
    nobody = httpx.AsyncClient(base_url=server)
    async with alice, bob, nobody:
        ids = await alices_thread(alice)
        before = await orm(snapshot)(ids["t"])
        for method, path, body in THREAD_ENDPOINTS:
            response = await call(bob, method, path, body, ids)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"] == "thread_not_found"
            response = await call(nobody, method, path, body, ids)
            assert response.status_code == 401, (method, path, response.text)
        assert await orm(snapshot)(ids["t"]) == before

        # Nor through the endpoints that take ids in the body.
        taken = await bob.post("/threads", json={"thread_id": ids["t"], "if_exists": "do_nothing"})
        assert taken.status_code == 409 and "alice" not in taken.text
        found = await bob.post("/threads/search", json={"ids": [ids["t"]]})
        assert found.status_code == 200 and found.json() == []
        assert (await bob.post("/threads/search", json={})).json() == []
        assert (await bob.post("/threads/count", json={})).json() == 0
        pruned = await bob.post("/threads/prune", json={"thread_ids": [ids["t"]]})
        assert pruned.status_code == 200 and pruned.json() == {"pruned_count": 0}
        kept = {"thread_ids": [ids["t"]], "strategy": "keep_latest"}
        assert (await bob.post("/threads/prune", json=kept)).json() == {"pruned_count": 0}
        assert await orm(snapshot)(ids["t"]) == before

        # Alice herself gets through every one of them.
        for method, path, body in THREAD_ENDPOINTS:
            response = await call(alice, method, path, body, ids)
            assert response.status_code < 300, (method, path, response.text)


async def test_the_websocket_refuses_another_users_thread(executor, user):
    alices = await orm(make_thread)(user)
    bob = await orm(make_user)("bob")
    assert await turned_away(communicator(f"/ws/threads/{alices.pk}/", bob)) == 4404

    # Bob's own socket cannot reach Alice's run by its id either.
    run = await orm(run_service.create_run)(alices.pk, input={"messages": ["hi"]}, actor=user)
    bobs = await orm(make_thread)(bob)
    ws = communicator(f"/ws/threads/{bobs.pk}/", bob)
    assert (await ws.connect())[0]
    await ws.receive_json_from()  # state
    await ws.send_json_to({"type": "cancel", "action": "rollback", "run_id": str(run.pk)})
    error = await ws.receive_json_from()
    assert error["type"] == "error" and error["error"] == "run_not_found"
    await ws.disconnect()
    assert await orm(Run.objects.filter(pk=run.pk).exists)()


async def test_the_websocket_needs_a_user(executor, user, settings):
    thread = await orm(make_thread)(user)
    path = f"/ws/threads/{thread.pk}/"
    # No user, from another machine: refused even with the local demo on.
    settings.LOCAL_DEMO = True
    assert await turned_away(communicator(path, client=["203.0.113.7", 5555])) == 4401
    # From this machine the local demo user connects, and it is not Alice.
    assert await turned_away(communicator(path, client=["127.0.0.1", 5555])) == 4404
    demo_thread = await orm(threads.create_thread)(actor=await orm(local_demo_user)())
    ws = communicator(f"/ws/threads/{demo_thread.pk}/", client=["127.0.0.1", 5555])
    assert (await ws.connect())[0]
    await ws.disconnect()
    # With the local demo off, this machine too must sign in.
    settings.LOCAL_DEMO = False
    assert await turned_away(communicator(path, client=["127.0.0.1", 5555])) == 4401


async def test_the_websocket_takes_an_api_key(executor, user):
    """For clients other than browsers: `x-api-key` on the handshake."""
    thread = await orm(make_thread)(user)
    path = f"/ws/threads/{thread.pk}/"
    _, key = await orm(UserAPIKey.objects.create_key)(user=user, name="ws")
    ws = communicator(path, headers=[(b"x-api-key", key.encode())])
    assert (await ws.connect())[0]
    assert (await ws.receive_json_from())["type"] == "state"
    await ws.disconnect()
    bobs_key = await orm(make_key)("bob")
    assert (
        await turned_away(communicator(path, headers=[(b"x-api-key", bobs_key.encode())])) == 4404
    )
    # A bad key is refused, even from this machine with the local demo on.
    bad = [(b"x-api-key", key[:-1].encode() + b"!")]
    assert await turned_away(communicator(path, client=["127.0.0.1", 1], headers=bad)) == 4401
