"""The admin: browse threads, runs, assistants and checkpoints; cancel runs and
delete assistants through the services."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from checkpoints.models import Checkpoint
from runs.graphs import registry
from runs.models import Assistant, Cron, Run, RunStatus, UserAPIKey
from runs.services import assistants, crons, state
from runs.services import runs as run_service
from runs.services.actors import SYSTEM
from tests.conftest import make_thread, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "a@example.com", "pw-long-enough")
    client.force_login(user)
    return client


@pytest.fixture
def busy_thread():
    thread = make_thread(metadata={"graph_id": "agent"})
    state.update_state(
        thread.pk,
        values={"messages": [{"role": "user", "content": "<script>alert(1)</script>"}]},
        actor=SYSTEM,
    )
    run = run_service.create_run(thread.pk, input={"messages": ["hi"]}, actor=SYSTEM)
    return thread, run


def test_pages_render_and_escape_message_html(staff_client, busy_thread):
    thread, run = busy_thread
    checkpoint = Checkpoint.objects.get(thread_id=str(thread.pk))
    urls = [
        reverse("admin:runs_thread_changelist"),
        reverse("admin:runs_thread_change", args=[thread.pk]),
        reverse("admin:runs_run_changelist") + "?status__exact=pending",
        reverse("admin:runs_run_changelist") + f"?q={thread.pk}",
        reverse("admin:runs_run_change", args=[run.pk]),
        reverse("admin:checkpoints_checkpoint_changelist"),
        reverse("admin:checkpoints_checkpoint_change", args=[checkpoint.pk]),
    ]
    for url in urls:
        response = staff_client.get(url)
        assert response.status_code == 200, url
    for page in (urls[1], urls[-1]):  # the thread's values, the decoded checkpoint
        body = staff_client.get(page).content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "<script>alert(1)</script>" not in body
    search = staff_client.get(urls[3]).content.decode()
    assert str(run.pk) in search


def test_cancel_actions_go_through_the_service(staff_client, busy_thread):
    thread, run = busy_thread
    queued = run_service.create_run(thread.pk, input={"messages": ["later"]}, actor=SYSTEM)
    url = reverse("admin:runs_run_changelist")
    staff_client.post(url, {"action": "cancel_interrupt", "_selected_action": [run.pk]})
    assert Run.objects.get(pk=run.pk).status == RunStatus.INTERRUPTED
    staff_client.post(url, {"action": "cancel_rollback", "_selected_action": [queued.pk]})
    assert not Run.objects.filter(pk=queued.pk).exists()


def test_runs_and_checkpoints_are_read_only(staff_client, busy_thread):
    _, run = busy_thread
    response = staff_client.post(
        reverse("admin:runs_run_change", args=[run.pk]), {"status": "success"}
    )
    assert response.status_code == 403
    assert Run.objects.get(pk=run.pk).status == RunStatus.PENDING
    assert staff_client.get(reverse("admin:runs_run_add")).status_code == 403


def test_an_api_key_made_in_the_admin_is_shown_once_and_works(staff_client):
    alice = make_user("alice")
    response = staff_client.post(
        reverse("admin:runs_userapikey_add"),
        {"name": "<b>laptop</b>", "user": alice.pk},
        follow=True,
    )
    body = response.content.decode()
    key = re.search(r"is: ([A-Za-z0-9]{8}\.[A-Za-z0-9]{32})\.", body).group(1)
    assert "<b>laptop</b>" not in body and "&lt;b&gt;laptop&lt;/b&gt;" in body
    assert UserAPIKey.objects.get_from_key(key).user == alice
    changelist = staff_client.get(reverse("admin:runs_userapikey_changelist")).content.decode()
    assert key not in changelist and "alice" in changelist
    api = APIClient(REMOTE_ADDR="203.0.113.9")
    assert api.post("/threads/search", {}, format="json", HTTP_X_API_KEY=key).status_code == 200


def test_assistants_with_their_versions_and_delete_through_the_service(staff_client):
    owner = make_user("alice")
    made = assistants.create_assistant(
        actor=owner, graph_id="agent", name="<b>bold</b>", context={"reply_words": 3}
    )
    assistants.update_assistant(made.pk, actor=owner, context={"reply_words": 4})
    run = run_service.create_run(
        make_thread(owner).pk, actor=owner, assistant_id=str(made.pk), input=None
    )
    changelist = staff_client.get(reverse("admin:runs_assistant_changelist"))
    assert changelist.status_code == 200
    page = staff_client.get(reverse("admin:runs_assistant_change", args=[made.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and "&lt;b&gt;bold&lt;/b&gt;" in body
    assert body.count("reply_words") >= 3  # the current context and both versions'

    default = registry.assistant_uuid("agent")
    refused = staff_client.post(reverse("admin:runs_assistant_delete", args=[default]))
    assert refused.status_code == 403
    deleted = staff_client.post(
        reverse("admin:runs_assistant_delete", args=[made.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 302
    assert not Assistant.objects.filter(pk=made.pk).exists()
    assert Run.objects.get(pk=run.pk).status == RunStatus.INTERRUPTED


def test_crons_are_listed_and_enabled_is_editable_through_the_service(staff_client):
    owner = make_user("alice")
    thread = make_thread(owner)
    long_ago = timezone.now() - timedelta(days=3)
    cron = crons.create_cron(
        actor=owner,
        assistant_id="agent",
        schedule="*/5 * * * *",
        thread_id=thread.pk,
        payload={"input": {"messages": ["<script>alert(1)</script>"]}},
        enabled=False,
        now=long_ago,
    )
    listing = staff_client.get(reverse("admin:runs_cron_changelist"))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "*/5 * * * *" in page and str(thread.pk) in page
    detail = staff_client.get(reverse("admin:runs_cron_change", args=[cron.pk])).content.decode()
    assert "&lt;script&gt;" in detail and "<script>alert(1)" not in detail
    assert staff_client.get(reverse("admin:runs_cron_add")).status_code == 403

    # Enabled from the list: through the service, which starts from now
    # rather than firing a tick three days old.
    response = staff_client.post(
        reverse("admin:runs_cron_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(cron.pk),
            "form-0-enabled": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    cron = Cron.objects.get(pk=cron.pk)
    assert cron.enabled is True and cron.next_run_date > timezone.now()
