"""Threads over REST: `state_updated_at` and `error`."""

import datetime

import pytest
from django.utils import timezone

from runs.models import RunStatus, Thread
from runs.services import runs as run_service
from runs.worker import transactions

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
HI = {"messages": [{"role": "user", "content": "hi"}]}


def post(api, url, body=None):
    return api.post(url, body, format="json")


def search(api, **body):
    response = post(api, "/threads/search", body)
    assert response.status_code == 200, response.content
    return response


def ids(response) -> list[str]:
    return [thread["thread_id"] for thread in response.json()]


def refused(response, status: int, field: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field, body
    assert body["error"] and body["detail"]
    return body


def agent_thread(api, updates=1, **metadata) -> str:
    """A thread on the `agent` graph with `updates` checkpoints written by hand."""
    tid = post(api, "/threads", {"metadata": {"graph_id": "agent", **metadata}}).json()["thread_id"]
    for i in range(updates):
        message = {"role": "user", "content": f"message {i}"}
        written = post(api, f"/threads/{tid}/state", {"values": {"messages": [message]}})
        assert written.status_code == 200, written.content
    return tid


def history(api, tid) -> list[dict]:
    return post(api, f"/threads/{tid}/history", {"limit": 100}).json()


# state_updated_at and error


def moved(before: str, after: str) -> bool:
    return datetime.datetime.fromisoformat(after) > datetime.datetime.fromisoformat(before)


def test_state_updated_at_moves_with_the_state_not_the_metadata(api):
    tid = agent_thread(api, updates=0)
    created = api.get(f"/threads/{tid}").json()
    assert created["state_updated_at"] and created["error"] is None
    patched = api.patch(f"/threads/{tid}", {"metadata": {"x": 1}}, format="json").json()
    assert moved(created["updated_at"], patched["updated_at"])
    assert patched["state_updated_at"] == created["state_updated_at"]
    post(api, f"/threads/{tid}/state", {"values": HI})
    updated = api.get(f"/threads/{tid}").json()
    assert moved(patched["state_updated_at"], updated["state_updated_at"])


def finish(tid, **outcome):
    """Claim the thread's next run and end it as a worker would."""
    claim = transactions.claim_next_run("test-worker", thread_id=tid)
    assert claim is not None
    transactions.finish_run(tid, claim.run_id, "test-worker", **outcome)
    return claim


def test_a_failed_run_leaves_its_error_on_the_thread_until_it_settles(api, owner):
    tid = agent_thread(api)
    before = api.get(f"/threads/{tid}").json()
    run_service.create_run(tid, actor=owner, input=HI)
    failure = {"error": "ValueError", "message": "boom"}
    finish(tid, status=RunStatus.ERROR, error=failure)
    failed = api.get(f"/threads/{tid}").json()
    assert failed["status"] == "error" and failed["error"] == failure
    assert moved(before["state_updated_at"], failed["state_updated_at"])
    assert ids(search(api, status="error")) == [tid]

    # A run in flight keeps it (as the platform's busy thread); a success clears it.
    run_service.create_run(tid, actor=owner, input=HI)
    busy = api.get(f"/threads/{tid}").json()
    assert busy["status"] == "busy" and busy["error"] == failure
    finish(tid, status=RunStatus.SUCCESS)
    settled = api.get(f"/threads/{tid}").json()
    assert settled["status"] == "idle" and settled["error"] is None


def test_an_update_or_a_cancel_clears_the_error(api, owner):
    tid = agent_thread(api)
    run_service.create_run(tid, actor=owner, input=HI)
    finish(tid, status=RunStatus.ERROR, error={"error": "E", "message": "m"})
    post(api, f"/threads/{tid}/state", {"values": HI, "as_node": "model"})
    assert api.get(f"/threads/{tid}").json()["error"] is None

    run_service.create_run(tid, actor=owner, input=HI)
    finish(tid, status=RunStatus.ERROR, error={"error": "E", "message": "m"})
    run = run_service.create_run(tid, actor=owner, input=HI)
    run_service.cancel_run(tid, run.pk, actor=owner, action="interrupt")
    thread = api.get(f"/threads/{tid}").json()
    assert thread["status"] == "idle" and thread["error"] is None


def test_a_rollback_moves_state_updated_at(api, owner):
    tid = agent_thread(api)
    run = run_service.create_run(tid, actor=owner, input=HI)
    claim = transactions.claim_next_run("test-worker", thread_id=tid)
    assert claim.run_id == str(run.pk)
    before = api.get(f"/threads/{tid}").json()["state_updated_at"]
    run_service.cancel_run(tid, run.pk, actor=owner, action="rollback")
    assert moved(before, api.get(f"/threads/{tid}").json()["state_updated_at"])


def test_a_run_end_moves_state_updated_at(api, owner):
    tid = agent_thread(api)
    before = api.get(f"/threads/{tid}").json()["state_updated_at"]
    Thread.objects.filter(pk=tid).update(state_updated_at=timezone.now() - datetime.timedelta(1))
    run_service.create_run(tid, actor=owner, input=HI)
    assert api.get(f"/threads/{tid}").json()["state_updated_at"] < before  # not at creation
    finish(tid, status=RunStatus.SUCCESS)
    assert moved(before, api.get(f"/threads/{tid}").json()["state_updated_at"])
