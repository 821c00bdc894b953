"""Bad input gets a clear JSON error naming the field; nothing is written."""

import pytest

from runs.models import Run

pytestmark = pytest.mark.django_db


def post(api, url, body):
    return api.post(url, body, format="json")


def test_unknown_strategy_is_422_naming_the_field(api, thread_id):
    response = post(
        api, f"/threads/{thread_id}/runs", {"assistant_id": "agent", "multitask_strategy": "shout"}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "multitask_strategy"
    assert Run.objects.count() == 0


def test_malformed_json_is_400(api, thread_id):
    response = api.post(f"/threads/{thread_id}/runs", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_unknown_thread_and_run_are_404(api, thread_id):
    missing = "00000000-0000-0000-0000-000000000000"
    assert post(api, f"/threads/{missing}/runs", {"assistant_id": "agent"}).status_code == 404
    assert api.get(f"/threads/{missing}/state").status_code == 404
    assert api.get("/threads/not-a-uuid").status_code == 404
    response = api.get(f"/threads/{thread_id}/runs/{missing}")
    assert response.status_code == 404 and response.json()["error"] == "run_not_found"


def test_unknown_assistant_is_404(api, thread_id):
    response = post(api, f"/threads/{thread_id}/runs", {"assistant_id": "nobody"})
    assert response.status_code == 404
    assert response.json()["field"] == "assistant_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "assistant_id"),
        ({"assistant_id": "agent", "config": "fast"}, "config"),
        ({"assistant_id": "agent", "stream_mode": "everything"}, "stream_mode"),
        ({"assistant_id": "agent", "stream_mode": [{"values": 1}]}, "stream_mode"),
        (
            {"assistant_id": "agent", "input": {"messages": [{"role": "robot"}]}},
            "input.messages[0].type",
        ),
        (
            {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": 1}]}},
            "input.messages[0].content",
        ),
    ],
)
def test_invalid_values_name_the_field(api, thread_id, body, field):
    response = post(api, f"/threads/{thread_id}/runs", body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert Run.objects.count() == 0


def test_unknown_fields_are_ignored_and_known_ones_honoured(api, thread_id):
    body = {
        "assistant_id": "agent",
        "langsmith_tracer": {"project_name": "x"},  # tracing: no bearing on the run
        "some_future_field": 1,
        "durability": "async",
        "interrupt_before": ["model"],
        "stream_resumable": False,
        "webhook": None,
        "feedback_keys": [],
    }
    response = post(api, f"/threads/{thread_id}/runs", body)
    assert response.status_code == 200
    kwargs = response.json()["kwargs"]
    assert kwargs["interrupt_before"] == ["model"] and kwargs["durability"] == "async"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("webhook", "http://example.invalid/hook"),
        ("feedback_keys", ["score"]),
        ("strict_resume", True),
        ("on_completion", "delete"),  # only for runs created without a thread
        ("stream_mode", ["values", "tools"]),
        ("interrupt_before", "model"),
        ("command", {"resume": 1, "jump": "x"}),
        ("command", {"goto": 3}),
        ("after_seconds", -1),
        ("durability", "eventually"),
    ],
)
def test_fields_that_would_change_a_run_and_are_not_done_are_refused(api, thread_id, field, value):
    response = post(api, f"/threads/{thread_id}/runs", {"assistant_id": "agent", field: value})
    assert response.status_code == 422, response.json()
    assert response.json()["field"] == field
    assert Run.objects.count() == 0


def test_bad_cancel_action(api, thread_id):
    run = post(api, f"/threads/{thread_id}/runs", {"assistant_id": "agent"}).json()
    response = api.post(f"/threads/{thread_id}/runs/{run['run_id']}/cancel?action=explode")
    assert response.status_code == 422 and response.json()["field"] == "action"
    assert Run.objects.get(pk=run["run_id"]).status == "pending"


def test_assistant_search_validates_paging(api):
    response = post(api, "/assistants/search", {"limit": "many"})
    assert response.status_code == 422 and response.json()["field"] == "limit"
    # Newest first, as on the platform: the defaults in the reverse of langgraph.json's order.
    found = post(api, "/assistants/search", {"limit": 5}).json()
    assert [a["graph_id"] for a in found] == ["hitl", "agent"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": ["00000000-0000-0000-0000-000000000001", "x"]}, "ids[1]"),
        ({"ids": ["x"]}, "ids[0]"),
        ({"metadata": "x"}, "metadata"),
    ],
)
def test_an_invalid_list_item_is_named_by_its_place(api, body, field):
    response = post(api, "/threads/search", body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert response.json()["detail"].startswith(f"Invalid {field}: ")
