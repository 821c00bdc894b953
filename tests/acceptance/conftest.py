"""Acceptance fixtures: the official SDK against a real server."""

import pytest
from langgraph_sdk import get_client


@pytest.fixture
def sdk(live_server_url):
    """The official langgraph-sdk client, pointed at a real server."""
    return get_client(url=live_server_url)
