"""The cron endpoints in process: shapes, paging headers and refusals (the
SDK tests in tests/acceptance/sdk/ drive them with the official clients)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from runs.models import Cron
from runs.services import crons

pytestmark = pytest.mark.django_db

YEARLY = {"assistant_id": "agent", "schedule": "0 0 1 1 *"}


def test_a_cron_s_shape(api, thread_id):
    created = api.post(f"/threads/{thread_id}/runs/crons", YEARLY, format="json")
    assert created.status_code == 200
    body = created.json()
    assert set(body) == {
        "cron_id",
        "assistant_id",
        "thread_id",
        "on_run_completed",
        "end_time",
        "schedule",
        "timezone",
        "created_at",
        "updated_at",
        "payload",
        "user_id",
        "next_run_date",
        "metadata",
        "enabled",
    }
    assert body["next_run_date"].endswith("-01-01T00:00:00+00:00")
    assert api.get(f"/runs/crons/{body['cron_id']}").json() == body


def test_search_pages_like_threads(api):
    for _ in range(3):
        assert api.post("/runs/crons", YEARLY, format="json").status_code == 200
    first = api.post("/runs/crons/search", {"limit": 2}, format="json")
    assert len(first.json()) == 2
    assert first["x-pagination-total"] == "3" and first["x-pagination-next"] == "2"
    last = api.post("/runs/crons/search", {"limit": 2, "offset": 2}, format="json")
    assert len(last.json()) == 1 and "x-pagination-next" not in last
    assert api.post("/runs/crons/count", {}, format="json").json() == 3


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/runs/crons", {**YEARLY, "colour": "red"}, 422, "colour"),
        ("/runs/crons", {"schedule": "0 0 1 1 *"}, 422, "assistant_id"),
        ("/runs/crons", {**YEARLY, "schedule": "0 0 1 1"}, 422, "schedule"),
        ("/runs/crons", {**YEARLY, "end_time": "someday"}, 422, "end_time"),
        ("/runs/crons", {**YEARLY, "input": {"messages": [{"role": "robot"}]}}, 422, None),
        ("/runs/crons", {**YEARLY, "stream_mode": "tools"}, 422, "stream_mode"),
        ("/runs/crons/search", {"sort_by": "schedule"}, 422, "sort_by"),
        ("/runs/crons/search", {"select": ["now"]}, 422, "select[0]"),
        ("/runs/crons/search", {"limit": 0}, 422, "limit"),
        ("/runs/crons/search", {"colour": "red"}, 422, "colour"),
        ("/runs/crons/count", {"thread_id": "not-a-uuid"}, 422, "thread_id"),
        ("/runs/crons/count", {"enabled": True}, 422, "enabled"),
    ],
)
def test_refusals_name_the_field(api, path, body, status, field):
    response = api.post(path, body, format="json")
    assert response.status_code == status, response.json()
    if field is not None:
        assert response.json()["field"] == field
    else:
        assert response.json()["field"].startswith("input")
    assert Cron.objects.count() == 0


def test_patch_and_delete(api):
    cron = api.post("/runs/crons", YEARLY, format="json").json()
    url = f"/runs/crons/{cron['cron_id']}"
    empty = api.patch(url, {}, format="json")
    assert empty.status_code == 422 and empty.json()["field"] == "body"
    assert api.patch(url, {"assistant_id": "other"}, format="json").json()["field"] == (
        "assistant_id"
    )  # not something a cron's update changes
    changed = api.patch(url, {"on_run_completed": "keep", "timezone": "Asia/Tokyo"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["on_run_completed"] == "keep"
    assert changed.json()["next_run_date"].endswith("-12-31T15:00:00+00:00")
    assert api.delete(url).status_code == 204
    missing = api.get(url)
    assert missing.status_code == 404 and missing.json()["error"] == "cron_not_found"
    assert api.get("/runs/crons/not-a-uuid").status_code == 404


def test_metrics_count_crons_and_their_firings(api, owner, thread_id):
    api.post(f"/threads/{thread_id}/runs/crons", {**YEARLY, "enabled": False}, format="json")
    due = api.post("/runs/crons", {**YEARLY, "schedule": "* * * * *"}, format="json").json()
    Cron.objects.filter(pk=due["cron_id"]).update(
        next_run_date=timezone.now() - timedelta(seconds=90)
    )
    staff = APIClient()
    owner.is_staff = True
    owner.save()
    staff.force_authenticate(owner)
    text = staff.get("/metrics").content.decode()
    assert 'doubletext_crons{enabled="true"} 1.0' in text
    assert 'doubletext_crons{enabled="false"} 1.0' in text
    overdue = next(
        line for line in text.splitlines() if line.startswith("doubletext_crons_overdue_seconds ")
    )
    assert float(overdue.split()[1]) >= 90
    crons.fire_due_crons()
    text = staff.get("/metrics").content.decode()
    assert 'doubletext_recent_cron_firings{outcome="run"} 1.0' in text
    assert "doubletext_crons_overdue_seconds 0.0" in text
