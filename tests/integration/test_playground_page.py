"""The strategy playground page: who gets it, and its four columns."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_from_elsewhere_sign_in_first(client):
    response = client.get("/playground/", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    assert response.headers["location"] == "/accounts/login/?next=/playground/"


def test_the_page_has_a_column_per_strategy_and_sets_the_csrf_cookie(client, settings):
    settings.LOCAL_DEMO = True
    response = client.get("/playground/")
    assert response.status_code == 200
    body = response.content.decode()
    assert re.findall(r'data-strategy="(\w+)"', body) == [
        "reject",
        "enqueue",
        "interrupt",
        "rollback",
    ]
    assert "csrftoken" in response.cookies  # the page creates threads with POST /threads
