"""chatapp/platform/middleware.py: Django's middleware with its I/O-free hooks run on
the event loop. Requests go through the async handler (AsyncClient), as under
Daphne; what needs the database (a session saved, messages kept in the
session) must still work, and a request must not hop to the sync thread once
per middleware."""

import pytest
from asgiref.sync import SyncToAsync
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import AsyncClient
from django.urls import reverse

from tests.conftest import orm

STOCK_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


@pytest.fixture(autouse=True)
def static_root(settings, tmp_path):
    """collectstatic's directory, empty (WhiteNoise warns if it is missing)."""
    settings.STATIC_ROOT = tmp_path


@pytest.fixture
def hops(monkeypatch):
    """Counts calls handed from async code to a sync thread."""
    calls = []
    original = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        calls.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    return calls


async def get_info(hops) -> list[str]:
    response = await AsyncClient().get("/info")
    assert response.status_code == 200
    return list(hops)


@pytest.mark.django_db
async def test_a_request_does_not_hop_to_a_thread_per_middleware(hops, settings):
    settings.WHITENOISE_AUTOREFRESH = False  # as in production (DEBUG off)
    ours = await get_info(hops)
    hops.clear()
    settings.MIDDLEWARE = STOCK_MIDDLEWARE
    stock = await get_info(hops)
    # Left: the request signals, the view and its rendering, and the hooks of
    # Django's security, CSRF and clickjacking middleware (kept as they are for
    # check --deploy); WhiteNoise, sessions, common, auth and messages hop no more.
    assert len(ours) <= 10, ours
    assert len(stock) >= len(ours) + 6, stock  # 16 with Django 5.2, WhiteNoise 6.12


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
