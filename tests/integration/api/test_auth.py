"""How clients get in: API keys (x-api-key, as langgraph-sdk sends), DRF
tokens, the browser session (CSRF checked) and the local demo."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from langgraph_sdk import get_client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from runs.models import Thread, UserAPIKey
from runs.services.accounts import LOCAL_DEMO_USERNAME
from tests.conftest import make_user, orm
from tests.live_server import LiveServer

pytestmark = pytest.mark.django_db

ELSEWHERE = "203.0.113.9"  # a client that is not on this machine


@pytest.fixture
def alice():
    return make_user("alice")


def search(client, **headers):
    return client.post("/threads/search", {}, format="json", **headers)


def test_api_key_authenticates_its_user(alice):
    _, key = UserAPIKey.objects.create_key(user=alice, name="laptop")
    client = APIClient(REMOTE_ADDR=ELSEWHERE)
    response = client.post("/threads", {}, format="json", HTTP_X_API_KEY=key)
    assert response.status_code == 200
    assert Thread.objects.get(pk=response.json()["thread_id"]).owner == alice


@pytest.mark.parametrize("problem", ["unknown", "malformed", "revoked", "expired", "inactive"])
def test_bad_api_keys_are_401(alice, problem):
    api_key, key = UserAPIKey.objects.create_key(user=alice, name="laptop")
    if problem == "unknown":
        key = key[:-1] + ("A" if key[-1] != "A" else "B")
    elif problem == "malformed":
        key = "not a key\x00"
    elif problem == "revoked":
        api_key.revoked = True
        api_key.save()
    elif problem == "expired":
        api_key.expiry_date = timezone.now() - timedelta(seconds=1)
        api_key.save()
    else:
        alice.is_active = False
        alice.save()
    # Even from this machine with the local demo on: bad credentials never
    # fall through to the demo user.
    response = search(APIClient(REMOTE_ADDR="127.0.0.1"), HTTP_X_API_KEY=key)
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_verified_api_key_is_trusted_briefly_and_revoking_it_is_immediate(
    alice, django_assert_num_queries
):
    """Verifying a key is a query and a hash: a process trusts a key it verified
    for API_KEY_CACHE_SECONDS; a revocation or deactivation saved in this
    process ends that at once."""
    api_key, key = UserAPIKey.objects.create_key(user=alice, name="laptop")
    client = APIClient(REMOTE_ADDR=ELSEWHERE)
    assert search(client, HTTP_X_API_KEY=key).status_code == 200
    with django_assert_num_queries(1):  # the search only, no key lookup
        assert search(client, HTTP_X_API_KEY=key).status_code == 200
    api_key.revoked = True
    api_key.save()
    assert search(client, HTTP_X_API_KEY=key).status_code == 401
    _, key = UserAPIKey.objects.create_key(user=alice, name="phone")
    assert search(client, HTTP_X_API_KEY=key).status_code == 200
    alice.is_active = False
    alice.save()
    assert search(client, HTTP_X_API_KEY=key).status_code == 401


def test_api_keys_are_verified_every_time_with_no_cache(alice, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    api_key, key = UserAPIKey.objects.create_key(user=alice, name="laptop")
    client = APIClient(REMOTE_ADDR=ELSEWHERE)
    assert search(client, HTTP_X_API_KEY=key).status_code == 200
    UserAPIKey.objects.filter(pk=api_key.pk).update(revoked=True)  # no signal
    assert search(client, HTTP_X_API_KEY=key).status_code == 401


def test_drf_token(alice):
    token = Token.objects.create(user=alice)
    client = APIClient(REMOTE_ADDR=ELSEWHERE)
    assert search(client, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    for bad in ("Token nope", "Token " + "0" * 40, "Token a b"):
        assert search(client, HTTP_AUTHORIZATION=bad).status_code == 401


def test_session_writes_need_the_csrf_token(alice):
    client = APIClient(enforce_csrf_checks=True, REMOTE_ADDR=ELSEWHERE)
    client.force_login(alice)
    refused = client.post("/threads", {}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not Thread.objects.exists()
    client.get("/")  # the chat page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post("/threads", {}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200
    assert client.get(f"/threads/{accepted.json()['thread_id']}").status_code == 200


def test_without_credentials_only_this_machine_gets_the_local_demo(settings):
    settings.LOCAL_DEMO = True
    local = APIClient(REMOTE_ADDR="127.0.0.1")
    created = local.post("/threads", {}, format="json")
    assert created.status_code == 200
    assert Thread.objects.get().owner.username == LOCAL_DEMO_USERNAME
    again = APIClient(REMOTE_ADDR="::1").get(f"/threads/{created.json()['thread_id']}")
    assert again.status_code == 200
    refused = search(APIClient(REMOTE_ADDR=ELSEWHERE))
    assert refused.status_code == 401 and refused.json()["error"] == "not_authenticated"
    settings.LOCAL_DEMO = False
    assert search(local).status_code == 401


def test_another_site_in_the_browser_cannot_act_as_the_demo_user(settings):
    settings.LOCAL_DEMO = True
    browser = APIClient(REMOTE_ADDR="127.0.0.1", enforce_csrf_checks=True)
    cross_site = browser.post(
        "/threads", {}, format="json", HTTP_ORIGIN="http://evil.example", HTTP_HOST="127.0.0.1"
    )
    assert cross_site.status_code == 403
    # A cross-site form cannot send JSON without a CORS preflight; any other body is refused.
    form = browser.post("/threads", "a=1", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert not Thread.objects.exists()
    browser.get("/")
    same_site = browser.post(
        "/threads",
        {},
        format="json",
        HTTP_ORIGIN="http://127.0.0.1",
        HTTP_HOST="127.0.0.1",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value,
    )
    assert same_site.status_code == 200


def test_health_is_public():
    assert APIClient(REMOTE_ADDR=ELSEWHERE).get("/ok").status_code == 200


def test_create_api_key_command(alice, capsys):
    call_command("create_api_key", "alice", "--name", "ci")
    key = capsys.readouterr().out.strip()
    assert UserAPIKey.objects.get_from_key(key).user == alice


@pytest.mark.django_db(transaction=True)
async def test_langgraph_sdk_sends_its_api_key():
    alice = await orm(make_user)("alice")
    _, key = await orm(UserAPIKey.objects.create_key)(user=alice, name="sdk")
    server = LiveServer(env={"LOCAL_DEMO": "false"})
    try:
        client = get_client(url=server.url, api_key=key)
        thread = await client.threads.create()
        owner = await orm(lambda: Thread.objects.get(pk=thread["thread_id"]).owner)()
        assert owner == alice
        anonymous = get_client(url=server.url, api_key=None)
        with pytest.raises(Exception) as refused:
            await anonymous.threads.search()
        assert refused.value.response.status_code == 401
    finally:
        server.stop()
