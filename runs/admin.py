"""Admin: inspect threads, runs and assistants; cancel runs; delete assistants.

Runs are read-only here: editing a status by hand would break the invariants
the strategy service keeps (one running run per thread). Cancelling goes
through the service. A thread's checkpoints are in the `checkpoints` app's
admin, decoded. Assistants are read-only too: a change is a new version,
written through the API (runs.services.assistants), and the graphs' default
assistants are the server's; deleting one of a user's goes through the
service, which interrupts its runs in flight.
"""

import json

from django.contrib import admin, messages
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from runs.models import (
    ACTIVE_RUN_STATUSES,
    Assistant,
    AssistantVersion,
    Cron,
    CronFiring,
    Run,
    Thread,
    UserAPIKey,
)
from runs.services import assistants, crons, runs
from runs.services.actors import SYSTEM
from runs.services.errors import RunsError


def pretty_json(value) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    # format_html escapes the text: message content is rendered inert.
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RunInline(ReadOnlyInline):
    model = Run
    fields = ("seq", "status", "multitask_strategy", "assistant_id", "created_at", "ended_at")
    readonly_fields = fields
    ordering = ("-seq",)


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "owner", "created_at", "updated_at")
    list_filter = ("status",)
    list_select_related = ("owner",)
    search_fields = ("id", "owner__username")
    autocomplete_fields = ("owner",)
    readonly_fields = (
        "id",
        "status",
        "run_counter",
        "pretty_values",
        "pretty_interrupts",
        "created_at",
        "updated_at",
    )
    fields = (
        "id",
        "owner",
        "metadata",
        "status",
        "run_counter",
        "pretty_values",
        "pretty_interrupts",
        "created_at",
        "updated_at",
    )
    inlines = (RunInline,)

    @admin.display(description="values (latest checkpoint)")
    def pretty_values(self, obj):
        return pretty_json(obj.values)

    @admin.display(description="pending interrupts")
    def pretty_interrupts(self, obj):
        return pretty_json(obj.interrupts)


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
    list_display = ("id", "thread", "seq", "status", "multitask_strategy", "created_at", "ended_at")
    list_filter = ("status", "multitask_strategy", "assistant_id")
    search_fields = ("id", "thread__id")
    actions = (cancel_interrupt, cancel_rollback)
    readonly_fields = (
        "id",
        "thread",
        "seq",
        "assistant_id",
        "status",
        "multitask_strategy",
        "cancel_action",
        "attempt",
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="input")
    def pretty_input(self, obj):
        return pretty_json(obj.input)

    @admin.display(description="kwargs")
    def pretty_kwargs(self, obj):
        return pretty_json(obj.kwargs)

    @admin.display(description="metadata")
    def pretty_metadata(self, obj):
        return pretty_json(obj.metadata)

    @admin.display(description="error")
    def pretty_error(self, obj):
        return pretty_json(obj.error)


class AssistantVersionInline(ReadOnlyInline):
    model = AssistantVersion
    fields = ("version", "graph_id", "name", "pretty_config", "pretty_context", "created_at")
    readonly_fields = fields
    ordering = ("-version",)
    show_change_link = False

    @admin.display(description="config")
    def pretty_config(self, obj):
        return pretty_json(obj.config)

    @admin.display(description="context")
    def pretty_context(self, obj):
        return pretty_json(obj.context)


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

    @admin.display(description="config")
    def pretty_config(self, obj):
        return pretty_json(obj.config)

    @admin.display(description="context")
    def pretty_context(self, obj):
        return pretty_json(obj.context)

    @admin.display(description="metadata")
    def pretty_metadata(self, obj):
        return pretty_json(obj.metadata)


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

    @admin.display(description="payload")
    def pretty_payload(self, obj):
        return pretty_json(obj.payload)

    @admin.display(description="metadata")
    def pretty_metadata(self, obj):
        return pretty_json(obj.metadata)

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
