"""Run creation is rate limited per user, over REST (429) and the websocket
(see test_consumers); reading is not."""

import pytest
from rest_framework.test import APIClient

from runs.models import Run
from tests.conftest import make_thread, make_user

pytestmark = pytest.mark.django_db

RUN = {"assistant_id": "agent", "input": {"messages": ["hi"]}}


@pytest.fixture
def two_per_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"run_create": "2/min"},
    }


def client_of(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_run_creation_over_the_rate_is_429(two_per_minute):
    alice, bob = make_user("alice"), make_user("bob")
    thread = make_thread(alice)
    api = client_of(alice)
    urls = [f"/threads/{thread.pk}/runs", "/runs", f"/threads/{thread.pk}/runs"]
    statuses = [api.post(url, RUN, format="json").status_code for url in urls]
    assert statuses == [200, 200, 429]
    refused = api.post("/runs/wait", RUN, format="json")
    assert refused.status_code == 429 and refused.json()["error"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert Run.objects.count() == 2
    # Reading is not limited, and other users have their own allowance.
    assert api.get(f"/threads/{thread.pk}/runs").status_code == 200
    bobs = make_thread(bob)
    assert client_of(bob).post(f"/threads/{bobs.pk}/runs", RUN, format="json").status_code == 200


def test_the_limit_can_be_turned_off(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"run_create": None},
    }
    alice = make_user("alice")
    thread, api = make_thread(alice), client_of(alice)
    for _ in range(5):
        assert api.post(f"/threads/{thread.pk}/runs", RUN, format="json").status_code == 200
