import pytest
from langgraph_sdk import get_client


@pytest.fixture
def client(live_server_url):
    return get_client(url=live_server_url)
