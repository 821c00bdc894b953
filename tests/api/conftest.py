"""API fixtures: the official SDK against a real server, and an in-process
client signed in as the owner of a thread."""

import pytest
from langgraph_sdk import get_client
from rest_framework.test import APIClient

from tests.conftest import make_thread, make_user


@pytest.fixture
def sdk(live_server_url):
    """The official langgraph-sdk client, pointed at a real server."""
    return get_client(url=live_server_url)


@pytest.fixture
def owner(db):
    return make_user()


@pytest.fixture
def api(owner):
    """An in-process API client, authenticated as `owner`."""
    client = APIClient()
    client.force_authenticate(owner)
    return client


@pytest.fixture
def thread_id(owner):
    """A thread of `owner`."""
    return str(make_thread(owner).pk)
