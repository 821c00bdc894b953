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
    # From a checkpoint to its thread's page (the thread has no run of its own yet).
    checkpoint_page = staff_client.get(urls[-1]).content.decode()
    assert f'href="{urls[1]}"' in checkpoint_page
    assert "the run that wrote it" not in checkpoint_page
    # And to the run that wrote it, when a run did.
    Checkpoint.objects.filter(pk=checkpoint.pk).update(run_id=str(run.pk))
    checkpoint_page = staff_client.get(urls[-1]).content.decode()
    assert f'<a href="{urls[4]}">the run that wrote it</a>' in checkpoint_page


def test_cancel_actions_go_through_the_service(staff_client, busy_thread):
    thread, run = busy_thread
    queued = run_service.create_run(thread.pk, input={"messages": ["later"]}, actor=SYSTEM)
    url = reverse("admin:runs_run_changelist")
    staff_client.post(url, {"action": "cancel_interrupt", "_selected_action": [run.pk]})
    assert Run.objects.get(pk=run.pk).status == RunStatus.INTERRUPTED
    staff_client.post(url, {"action": "cancel_rollback", "_selected_action": [queued.pk]})
    assert not Run.objects.filter(pk=queued.pk).exists()
    # Stopped by a cancel, not by a double-text: the list says so.
    assert "interrupted (cancelled)" in staff_client.get(url).content.decode()


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


CONVERSATION = [
    {"role": "user", "content": "weather in sf please"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"name": "get_weather", "args": {"city": "sf"}, "id": "call-1"}],
    },
    {
        "role": "tool",
        "content": '{"condition": "sunny"}',
        "tool_call_id": "call-1",
        "name": "get_weather",
    },
    {
        "role": "assistant",
        "content": "The weather in sf is sun",
        "response_metadata": {"interrupted": True},
    },
]


@pytest.fixture
def double_texted():
    """A thread with a conversation, and runs that double-texted each other:
    #1 interrupted by #2, #2 rolled back by #3 (its row is gone)."""
    thread = make_thread(metadata={"graph_id": "agent"})
    state.update_state(thread.pk, values={"messages": CONVERSATION}, actor=SYSTEM)
    first = run_service.create_run(thread.pk, input={"messages": ["first question"]}, actor=SYSTEM)
    second = run_service.create_run(
        thread.pk,
        input={"messages": ["second thoughts"]},
        actor=SYSTEM,
        multitask_strategy="interrupt",
    )
    third = run_service.create_run(
        thread.pk,
        input={"messages": ["third time lucky"]},
        actor=SYSTEM,
        multitask_strategy="rollback",
    )
    return thread, first, second, third


def test_thread_page_shows_the_conversation_and_what_each_run_did(staff_client, double_texted):
    thread, first, second, third = double_texted
    body = staff_client.get(reverse("admin:runs_thread_change", args=[thread.pk])).content.decode()
    # The conversation as it stands, tool calls readable, the cut-short answer marked.
    assert "weather in sf please" in body
    assert "get_weather(city: &quot;sf&quot;)" in body
    assert "get_weather → {&quot;condition&quot;: &quot;sunny&quot;}" in body
    assert '<span class="dt-tag">interrupted</span>' in body
    # Per run: input, strategy, outcome, what it did to the run before it.
    table = body[body.index('<table class="dt-runs">') :]
    table = table[: table.index("</table>")]
    rows = table.split("<tr")[2:]
    assert len(rows) == 3  # #1, #2 (rolled back, from #3's record), #3
    assert "first question" in rows[0] and "enqueue" in rows[0]
    # #2 interrupted #1, then #3 erased #2: #3's record keeps what #2 did.
    assert "interrupted by #2 (rolled back since)" in rows[0]
    assert "dt-rolled-back" in rows[1] and "second thoughts" in rows[1]
    assert "<td>interrupt</td>" in rows[1]
    assert "rolled back by #3" in rows[1]
    assert "third time lucky" in rows[2] and "rollback" in rows[2]
    assert "rolled back #2 “second thoughts”" in rows[2]
    assert "Pending" in rows[2]
    assert "None: the thread waits for nobody." in body
    checkpoints = reverse("admin:checkpoints_checkpoint_changelist") + f"?q={thread.pk}"
    assert f'href="{checkpoints}"' in body
    # The thread list names it by its first message.
    listing = staff_client.get(reverse("admin:runs_thread_changelist")).content.decode()
    assert f"“weather in sf please” · {str(thread.pk)[:8]}" in listing


def test_run_list_shows_each_runs_first_words_and_what_it_did(staff_client, double_texted):
    thread, first, second, third = double_texted
    url = reverse("admin:runs_run_changelist")
    body = staff_client.get(url).content.decode()
    assert "#1 “first question”" in body
    assert "#3 “third time lucky”" in body
    assert "rolled back #2 “second thoughts” (was pending)" in body
    assert f">{str(thread.pk)[:8]}</a>" in body
    stopped_others = staff_client.get(url + "?stopped=yes").content.decode()
    assert "third time lucky" in stopped_others and "first question" not in stopped_others
    third_page = staff_client.get(reverse("admin:runs_run_change", args=[third.pk])).content
    assert "rolled back #2 “second thoughts”".encode() in third_page
    # A run stopped by one that still exists links to it.
    other = make_thread()
    cut = run_service.create_run(other.pk, input={"messages": ["one"]}, actor=SYSTEM)
    by = run_service.create_run(
        other.pk, input={"messages": ["two"]}, actor=SYSTEM, multitask_strategy="interrupt"
    )
    cut_page = staff_client.get(reverse("admin:runs_run_change", args=[cut.pk])).content.decode()
    by_url = reverse("admin:runs_run_change", args=[by.pk])
    assert f'interrupted by <a href="{by_url}">#2</a>' in cut_page


async def test_pending_interrupts_are_shown_and_filtered(executor, transactional_db):
    """A human-in-the-loop run stops at interrupt(): the thread's page shows
    what it asks, and the thread list filters the threads that wait."""
    from tests.conftest import FAST, in_thread, orm, wait_status

    thread = await orm(make_thread)()
    idle = await orm(make_thread)()
    run = await orm(run_service.create_run)(
        thread.pk,
        assistant_id="hitl",
        input={"messages": ["what's the weather in sf?"]},
        config=FAST,
        actor=SYSTEM,
    )
    await wait_status(run.pk, RunStatus.SUCCESS, RunStatus.INTERRUPTED, timeout=20)

    def pages():
        from django.test import Client

        from tests.conftest import make_user as _make_user

        admin_user = _make_user("root")
        admin_user.is_staff = admin_user.is_superuser = True
        admin_user.save()
        client = Client()
        client.force_login(admin_user)
        changelist = reverse("admin:runs_thread_changelist")
        return (
            client.get(reverse("admin:runs_thread_change", args=[thread.pk])).content.decode(),
            client.get(changelist + "?waiting=yes").content.decode(),
            client.get(changelist + "?waiting=no").content.decode(),
        )

    page, waiting, not_waiting = await in_thread(pages)()
    assert "Waiting for a human" in page
    assert "get_weather" in page[page.index("dt-interrupts") :]
    assert str(thread.pk) in waiting and str(idle.pk) not in waiting
    assert str(idle.pk) in not_waiting and str(thread.pk) not in not_waiting


def test_who_stopped_a_run_survives_a_chain_of_rollbacks(staff_client):
    """#2 interrupts #1, #3 rolls back #2, #4 rolls back #3: #1 still says #2
    stopped it, and #2 and #3 are listed as erased, through the records each
    eraser keeps of what it erased."""
    thread = make_thread()
    run_service.create_run(thread.pk, input={"messages": ["one"]}, actor=SYSTEM)
    for text, strategy in (("two", "interrupt"), ("three", "rollback"), ("four", "rollback")):
        run_service.create_run(
            thread.pk, input={"messages": [text]}, actor=SYSTEM, multitask_strategy=strategy
        )
    body = staff_client.get(reverse("admin:runs_thread_change", args=[thread.pk])).content
    rows = body.decode().split('<table class="dt-runs">')[1].split("<tr")[2:]
    assert len(rows) == 4  # #1, #2 and #3 (erased), #4
    assert "interrupted by #2 (rolled back since)" in rows[0]
    assert "dt-rolled-back" in rows[1] and "two" in rows[1] and "rolled back by #3" in rows[1]
    assert "dt-rolled-back" in rows[2] and "three" in rows[2] and "rolled back by #4" in rows[2]
    assert "rolled back #3 “three”" in rows[3]


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
