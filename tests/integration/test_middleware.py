"""The middleware stack (settings.MIDDLEWARE) through Django's async test
client: a session saved on sign-in, messages kept in the session, static
files from WhiteNoise. (Under Daphne the middleware runs in sync mode, in one
hop: chatapp/platform/asgi_handler.py.)"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import AsyncClient
from django.urls import reverse

from tests.conftest import orm


@pytest.fixture(autouse=True)
def static_root(settings, tmp_path):
    """collectstatic's directory, empty (WhiteNoise warns if it is missing)."""
    settings.STATIC_ROOT = tmp_path


@pytest.fixture
def alice(transactional_db):
    return get_user_model().objects.create_superuser("alice", "a@example.com", "pw-long-enough")


@pytest.mark.django_db(transaction=True)
async def test_signing_in_saves_the_session(alice):
    client = AsyncClient()
    response = await client.post(
        reverse("login"), {"username": "alice", "password": "pw-long-enough"}
    )
    assert response.status_code == 302, response.content
    assert await orm(Session.objects.count)() == 1
    page = await client.get(reverse("chat"))
    assert page.status_code == 200
    assert b"alice" in page.content


@pytest.mark.django_db(transaction=True)
async def test_messages_kept_in_the_session_reach_the_next_page(alice, settings):
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
    client = AsyncClient()
    await orm(client.force_login)(alice)
    url = reverse("admin:auth_user_change", args=[alice.pk])
    form = {
        "username": "alice",
        "email": "alice@example.com",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "date_joined_0": "2026-11-25",
        "date_joined_1": "10:00:00",
    }
    response = await client.post(url, form)
    assert response.status_code == 302, response.content
    page = await client.get(response["Location"])
    assert b"was changed successfully" in page.content


@pytest.mark.parametrize("autorefresh", [False, True], ids=["production", "debug"])
async def test_static_files_are_served(settings, autorefresh):
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = autorefresh
    response = await AsyncClient().get("/static/doubletext/chat.js")
    assert response.status_code == 200
    served = b"".join(response.streaming_content)
    assert served == (settings.BASE_DIR / "static/doubletext/chat.js").read_bytes()
    missing = await AsyncClient().get("/static/no-such-file.js")
    assert missing.status_code == 404
