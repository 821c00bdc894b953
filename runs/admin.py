"""Admin: inspect threads, runs and assistants; cancel runs; delete assistants.

Runs are read-only here: editing a status by hand would break the invariants
the strategy service keeps (one running run per thread). Cancelling goes
through the service. A thread's page shows its conversation as it stands (read
through the state service as SYSTEM), its pending interrupts and its runs: per
run, its input, strategy, outcome and what it did to the runs before it
(`Run.cancelled_by`; a rolled-back run's row is gone, its `RolledBackRun`
names the run that erased it). A thread's checkpoints are in the
`checkpoints` app's admin, decoded. Assistants are read-only too: a change is
a new version, written through the API (runs.services.assistants), and the
graphs' default assistants are the server's; deleting one of a user's goes
through the service, which interrupts its runs in flight.
"""

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from runs.admin_render import (
    json_column,
    pretty_json,
    render_conversation,
    render_effect,
    render_interrupts,
    run_label,
)
from runs.models import (
    ACTIVE_RUN_STATUSES,
    Assistant,
    AssistantVersion,
    Cron,
    CronFiring,
    RolledBackRun,
    Run,
    Thread,
    UserAPIKey,
)
from runs.services import assistants, crons, runs, state
from runs.services.actors import SYSTEM
from runs.services.chat_messages import input_excerpt
from runs.services.errors import RunsError

# The runs a thread's page lists (the latest ones): a thread may have thousands.
THREAD_PAGE_RUNS = 100
ADMIN_MEDIA = {"all": ("doubletext/admin.css",)}


class WaitingForHumanFilter(admin.SimpleListFilter):
    """Threads stopped at an interrupt() (human-in-the-loop), waiting for an answer."""

    title = "human in the loop"
    parameter_name = "waiting"
    # The path from the filtered model to the thread ("" on Thread itself).
    thread_path = ""

    def lookups(self, request, model_admin):
        return [("yes", "waiting for a human"), ("no", "not waiting")]

    def queryset(self, request, queryset):
        # Thread.interrupts: the pending interrupts of the latest checkpoint, {} when none.
        empty = {f"{self.thread_path}interrupts": {}}
        if self.value() == "yes":
            return queryset.exclude(**empty)
        if self.value() == "no":
            return queryset.filter(**empty)
        return queryset


class RunThreadWaitingFilter(WaitingForHumanFilter):
    title = "thread waiting for a human"
    thread_path = "thread__"


class StoppedRunsFilter(admin.SimpleListFilter):
    """Double-texts that stopped the runs in flight (interrupt or rollback)."""

    title = "what it did to the runs before it"
    parameter_name = "stopped"

    def lookups(self, request, model_admin):
        return [("yes", "interrupted or rolled back a run"), ("no", "nothing")]

    def queryset(self, request, queryset):
        stopped = Exists(Run.objects.filter(cancelled_by=OuterRef("pk"))) | Exists(
            RolledBackRun.objects.filter(rolled_back_by=OuterRef("pk"))
        )
        if self.value() == "yes":
            return queryset.filter(stopped)
        if self.value() == "no":
            return queryset.exclude(stopped)
        return queryset


def first_words(thread: Thread) -> str:
    """A thread as a person recognises it: its first user message."""
    for message in (thread.values or {}).get("messages") or []:
        if isinstance(message, dict) and message.get("type") == "human":
            return input_excerpt({"messages": [message]}, 60)
    return ""


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def what_it_did(run: Run) -> list:
    """[(action, run)]: the runs a double-text stopped, the rolled-back ones as
    their RolledBackRun. Only a run created with interrupt or rollback can have."""
    if run.multitask_strategy not in ("interrupt", "rollback"):
        return []
    interrupted = [("interrupt", r) for r in Run.objects.filter(cancelled_by=run.pk)]
    erased = [("rollback", r) for r in RolledBackRun.objects.filter(rolled_back_by=run.pk)]
    return sorted(interrupted + erased, key=lambda pair: pair[1].seq)


def stopped_by(stopper_id):
    """The run (or RolledBackRun, if erased since) with this id, or None."""
    if stopper_id is None:
        return None
    return (
        Run.objects.filter(pk=stopper_id).first()
        or RolledBackRun.objects.filter(run_id=stopper_id).first()
    )


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ("thread", "status", "waiting_for_human", "owner", "created_at", "updated_at")
    list_display_links = ("thread",)
    list_filter = ("status", WaitingForHumanFilter)
    list_select_related = ("owner",)
    search_fields = ("id", "owner__username")
    autocomplete_fields = ("owner",)
    readonly_fields = (
        "id",
        "status",
        "run_counter",
        "conversation",
        "pending_interrupts",
        "run_history",
        "checkpoints",
        "pretty_values",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("id", "owner", "status", "pending_interrupts", "checkpoints")}),
        ("Conversation (as it stands)", {"fields": ("conversation",)}),
        ("Runs", {"fields": ("run_history",)}),
        (
            "Details",
            {
                "classes": ("collapse",),
                "fields": ("metadata", "run_counter", "pretty_values", "created_at", "updated_at"),
            },
        ),
    )

    class Media:
        css = ADMIN_MEDIA

    @admin.display(description="thread", ordering="created_at")
    def thread(self, obj):
        words = first_words(obj)
        return f"“{words}” · {str(obj.pk)[:8]}" if words else f"(no messages) · {str(obj.pk)[:8]}"

    @admin.display(description="waiting for a human", boolean=True)
    def waiting_for_human(self, obj):
        return bool(obj.interrupts)

    def current_state(self, obj) -> dict:
        """The thread's state through the service, as the system (once per page)."""
        # Not `_state`: Django keeps its ModelState there.
        if not hasattr(obj, "_thread_state"):
            try:
                obj._thread_state = state.get_state(obj.pk, actor=SYSTEM)
            except RunsError as error:
                obj._thread_state = {"values": {}, "interrupts": [], "error": error.message}
        return obj._thread_state

    @admin.display(description="conversation")
    def conversation(self, obj):
        current = self.current_state(obj)
        if current.get("error"):
            return current["error"]
        values = current.get("values") or {}
        messages = values.get("messages") if isinstance(values, dict) else None
        if not isinstance(messages, list):
            # A graph whose state has no messages: its values as they are.
            return pretty_json(values)
        return render_conversation(messages)

    @admin.display(description="pending interrupts")
    def pending_interrupts(self, obj):
        return render_interrupts(self.current_state(obj).get("interrupts") or [])

    @admin.display(description="runs")
    def run_history(self, obj):
        """Each run (oldest first): input, strategy, outcome, what it did to the
        runs before it; rolled-back runs, gone, from their eraser's record."""
        latest = list(obj.runs.order_by("-seq")[:THREAD_PAGE_RUNS])
        gone = list(obj.rolled_back_runs.order_by("-seq")[:THREAD_PAGE_RUNS])
        known = {run.pk: run for run in latest} | {g.run_id: g for g in gone}
        did: dict = {}
        for run in latest:
            if run.cancelled_by in known:
                did.setdefault(run.cancelled_by, []).append(("interrupt", run))
        for g in gone:
            if g.rolled_back_by in known:
                did.setdefault(g.rolled_back_by, []).append(("rollback", g))
        rows = []  # (seq, cells)
        for g in gone:
            by = known.get(g.rolled_back_by)
            cells = (
                "dt-rolled-back",
                format_html("#{}", g.seq),
                input_excerpt(g.input, 120),
                g.multitask_strategy,
                "rolled back (deleted)",
                format_html("rolled back by #{}", by.seq) if by else "rolled back (cancelled)",
            )
            rows.append((g.seq, cells))
        for run in latest:
            url = reverse("admin:runs_run_change", args=[run.pk])
            outcome = run.get_status_display()
            if run.error:
                outcome = f"{outcome}: {(run.error or {}).get('message') or run.error}"
            cells = (
                f"dt-{run.status}",
                format_html('<a href="{}">#{}</a>', url, run.seq),
                input_excerpt(run.input, 120),
                run.multitask_strategy,
                outcome,
                render_effect(run, did.get(run.pk, []), known.get(run.cancelled_by)),
            )
            rows.append((run.seq, cells))
        rows = [cells for _, cells in sorted(rows, key=lambda row: row[0])]
        if not rows:
            return "No runs."
        body = format_html_join(
            "",
            '<tr class="{}"><td>{}</td><td class="dt-input">{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td></tr>",
            rows,
        )
        return format_html(
            '<table class="dt-runs"><thead><tr><th>run</th><th>input</th><th>strategy</th>'
            "<th>outcome</th><th>double-text</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="checkpoints")
    def checkpoints(self, obj):
        url = reverse("admin:checkpoints_checkpoint_changelist")
        return format_html('<a href="{}?q={}">its checkpoints, decoded</a>', url, obj.pk)

    pretty_values = json_column("values", "values (latest checkpoint)")


@admin.action(description="Cancel selected runs (interrupt: keep partial output)")
def cancel_interrupt(modeladmin, request, queryset):
    _cancel(modeladmin, request, queryset, "interrupt")


@admin.action(description="Cancel selected runs (rollback: delete them and their output)")
def cancel_rollback(modeladmin, request, queryset):
    _cancel(modeladmin, request, queryset, "rollback")


def _cancel(modeladmin, request, queryset, action):
    done = 0
    for run in queryset.filter(status__in=ACTIVE_RUN_STATUSES):
        try:
            runs.cancel_run(run.thread_id, run.pk, actor=SYSTEM, action=action)
            done += 1
        except RunsError as error:
            modeladmin.message_user(request, f"{run.pk}: {error.message}", messages.ERROR)
    modeladmin.message_user(request, f"Cancelled {done} run(s) with {action}.", messages.SUCCESS)


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = (
        "run",
        "status",
        "multitask_strategy",
        "double_text",
        "thread_link",
        "created_at",
        "ended_at",
    )
    list_display_links = ("run",)
    list_filter = (
        "status",
        "multitask_strategy",
        StoppedRunsFilter,
        RunThreadWaitingFilter,
        "assistant_id",
    )
    search_fields = ("id", "thread__id")
    actions = (cancel_interrupt, cancel_rollback)
    readonly_fields = (
        "id",
        "thread",
        "seq",
        "assistant_id",
        "status",
        "multitask_strategy",
        "effect",
        "run_checkpoints",
        "cancel_action",
        "attempt",
        "input_messages",
        "pretty_input",
        "pretty_kwargs",
        "pretty_metadata",
        "pretty_error",
        "worker_id",
        "lease_expires_at",
        "started_at",
        "ended_at",
        "created_at",
        "updated_at",
    )
    exclude = ("input", "kwargs", "metadata", "error")

    class Media:
        css = ADMIN_MEDIA

    @admin.display(description="run (its input)", ordering="seq")
    def run(self, obj):
        return run_label(obj.seq, obj.input)

    @admin.display(description="thread")
    def thread_link(self, obj):
        url = reverse("admin:runs_thread_change", args=[obj.thread_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.thread_id)[:8])

    @admin.display(description="double-text")
    def double_text(self, obj):
        # Queries only for runs that can have stopped another, or were stopped.
        return render_effect(obj, what_it_did(obj), stopped_by(obj.cancelled_by))

    @admin.display(description="what it did / what was done to it")
    def effect(self, obj):
        return render_effect(obj, what_it_did(obj), stopped_by(obj.cancelled_by))

    @admin.display(description="checkpoints")
    def run_checkpoints(self, obj):
        url = reverse("admin:checkpoints_checkpoint_changelist")
        return format_html('<a href="{}?q={}">the checkpoints it wrote</a>', url, obj.pk)

    @admin.display(description="input (messages)")
    def input_messages(self, obj):
        given = (obj.input or {}).get("messages") if isinstance(obj.input, dict) else None
        return render_conversation(given) if isinstance(given, list) else "-"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    pretty_input = json_column("input", "input (JSON)")
    pretty_kwargs = json_column("kwargs")
    pretty_metadata = json_column("metadata")
    pretty_error = json_column("error")


class AssistantVersionInline(ReadOnlyInline):
    model = AssistantVersion
    fields = ("version", "graph_id", "name", "pretty_config", "pretty_context", "created_at")
    readonly_fields = fields
    ordering = ("-version",)
    show_change_link = False

    pretty_config = json_column("config")
    pretty_context = json_column("context")


@admin.register(Assistant)
class AssistantAdmin(admin.ModelAdmin):
    list_display = ("name", "assistant_id", "graph_id", "owner_or_default", "version", "updated_at")
    list_filter = ("graph_id",)
    list_select_related = ("owner",)
    search_fields = ("assistant_id", "name", "graph_id", "owner__username")
    readonly_fields = (
        "assistant_id",
        "owner_or_default",
        "graph_id",
        "name",
        "description",
        "version",
        "pretty_config",
        "pretty_context",
        "pretty_metadata",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
    inlines = (AssistantVersionInline,)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.is_default

    def delete_model(self, request, obj):
        assistants.delete_assistant(obj.pk, actor=SYSTEM)

    def delete_queryset(self, request, queryset):
        for assistant in queryset.filter(owner__isnull=False):
            assistants.delete_assistant(assistant.pk, actor=SYSTEM)

    @admin.display(description="owner")
    def owner_or_default(self, obj):
        return obj.owner or "(the graph's default assistant)"

    pretty_config = json_column("config")
    pretty_context = json_column("context")
    pretty_metadata = json_column("metadata")


class CronFiringInline(ReadOnlyInline):
    model = CronFiring
    fields = ("scheduled_for", "fired_at", "run_id", "error", "worker_id")
    readonly_fields = fields
    show_change_link = False
    ordering = ("-scheduled_for",)


@admin.register(Cron)
class CronAdmin(admin.ModelAdmin):
    """Crons, their next tick and their latest firings. Only `enabled` is
    editable (here and in the list); it goes through the service, which starts
    a re-enabled cron from now rather than firing a tick long past."""

    list_display = (
        "id",
        "schedule",
        "timezone",
        "next_run_date",
        "enabled",
        "thread",
        "owner",
        "end_time",
    )
    list_editable = ("enabled",)
    list_filter = ("enabled",)
    list_select_related = ("owner",)
    search_fields = ("id", "owner__username", "thread__id", "schedule")
    fields = (
        "id",
        "owner",
        "thread",
        "assistant_id",
        "schedule",
        "timezone",
        "next_run_date",
        "end_time",
        "enabled",
        "on_run_completed",
        "pretty_payload",
        "pretty_metadata",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(name for name in fields if name != "enabled")
    inlines = [CronFiringInline]

    def has_add_permission(self, request):
        return False  # crons are created through the API, with their checks

    pretty_payload = json_column("payload")
    pretty_metadata = json_column("metadata")

    def save_model(self, request, obj, form, change):
        if "enabled" in form.changed_data:
            crons.set_enabled(obj.pk, obj.enabled, actor=SYSTEM)


# API keys belong to users here; the library's user-less keys are not used.
admin.site.unregister(APIKey)


@admin.register(UserAPIKey)
class UserAPIKeyAdmin(APIKeyModelAdmin):
    """Create a key for a user: it is shown once, in the message after saving."""

    list_display = ("prefix", "name", "user", "created", "expiry_date", "_has_expired", "revoked")
    list_select_related = ("user",)
    search_fields = ("prefix", "name", "user__username")
    autocomplete_fields = ("user",)
