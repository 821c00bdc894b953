"""Admin: read LangGraph checkpoints, decoded.

Read-only: a checkpoint is LangGraph's state, which only the graph (through
the saver) may write; editing one by hand, or deleting one from the middle of
a history, would leave a state no run produced.

The detail page loads the checkpoint through the saver (`get_tuple`, three
queries), so it shows what a graph would load: channel values and pending
writes decoded by the serde, as pretty-printed JSON, LangChain messages as
type, content and tool calls. Everything shown is escaped (a message may
carry HTML).

The list searches by exact thread id or run id (the indexes' columns; a
substring search would scan every checkpoint) and filters by the metadata's
source.
"""

import dataclasses
import json
from datetime import date, datetime, time
from uuid import UUID

from django.contrib import admin
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from checkpoints.models import Checkpoint
from checkpoints.saver import DjangoCheckpointSaver

# The serde of the server's saver (the default one) decodes the values.
saver = DjangoCheckpointSaver()


def message_dict(message: BaseMessage) -> dict:
    """What a person reads in a LangChain message."""
    data = {"type": message.type, "content": message.content}
    for key in ("name", "id", "tool_call_id", "status"):
        if value := getattr(message, key, None):
            data[key] = value
    if tool_calls := getattr(message, "tool_calls", None):
        data["tool_calls"] = tool_calls
    return data


def jsonable(value):
    """json.dumps' fallback for what LangGraph stores that JSON has no type for."""
    if isinstance(value, BaseMessage):
        return message_dict(value)
    if isinstance(value, BaseModel):
        return {"__type__": type(value).__name__, **value.model_dump(mode="json")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "__type__": type(value).__name__,
            **{f.name: getattr(value, f.name) for f in dataclasses.fields(value)},
        }
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    if isinstance(value, bytes | bytearray):
        return repr(bytes(value))
    slots = [s for cls in type(value).__mro__ for s in getattr(cls, "__slots__", ())]
    if hasattr(value, "__dict__") or slots:  # Send has slots
        attributes = {s: getattr(value, s) for s in slots if hasattr(value, s)}
        return {"__type__": type(value).__name__, **attributes, **getattr(value, "__dict__", {})}
    return repr(value)


def pretty_json(value) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=jsonable)
    # format_html escapes the text: whatever a message holds is rendered inert.
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


def render_messages(messages: list[BaseMessage]) -> str:
    rows = []
    for message in messages:
        data = message_dict(message)
        content = data.pop("content")
        tool_calls = data.pop("tool_calls", None)
        kind = data.pop("type")
        details = ", ".join(f"{k}: {v}" for k, v in data.items())
        rows.append(
            (
                kind,
                details,
                content if isinstance(content, str) else pretty_json(content),
                pretty_json(tool_calls) if tool_calls else "",
            )
        )
    body = format_html_join(
        "",
        "<tr><td><strong>{}</strong><br><small>{}</small></td>"
        '<td style="white-space: pre-wrap">{}</td><td>{}</td></tr>',
        rows,
    )
    return format_html(
        "<table><thead><tr><th>type</th><th>content</th><th>tool calls</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        body,
    )


def render_value(value) -> str:
    if isinstance(value, list) and value and all(isinstance(m, BaseMessage) for m in value):
        return render_messages(value)
    return pretty_json(value)


class SourceFilter(admin.SimpleListFilter):
    """The metadata's source: input, loop, update or fork."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return [(s, s) for s in ("input", "loop", "update", "fork")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(metadata__source=self.value())
        return queryset


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = (
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
        "step",
        "source",
        "run_id",
        "created_at",
    )
    list_filter = (SourceFilter,)
    search_fields = ("thread_id", "run_id")
    search_help_text = "An exact thread id or run id."
    ordering = ("-id",)
    show_full_result_count = False
    fields = (
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
        "parent_checkpoint_id",
        "run_id",
        "created_at",
        "thread_history",
        "metadata_display",
        "channel_values",
        "pending_writes",
        "versions",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        # Exact ids, each an index lookup (not icontains, which scans).
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(thread_id=term) | Q(run_id=term)), False

    @admin.display(description="step")
    def step(self, obj):
        return obj.metadata.get("step")

    @admin.display(description="source")
    def source(self, obj):
        return obj.metadata.get("source")

    @admin.display(description="thread")
    def thread_history(self, obj):
        url = reverse("admin:checkpoints_checkpoint_changelist")
        links = [
            format_html('<a href="{}?q={}">all checkpoints of the thread</a>', url, obj.thread_id)
        ]
        # The thread's and the run's own pages, when the app that runs graphs
        # has them (this app stores checkpoints for any thread id, and knows no runs).
        for name, value, text in (
            ("admin:runs_thread_change", obj.thread_id, "the thread (its conversation)"),
            ("admin:runs_run_change", obj.run_id, "the run that wrote it"),
        ):
            if not value:
                continue
            try:
                links.append(format_html('<a href="{}">{}</a>', reverse(name, args=[value]), text))
            except NoReverseMatch:
                pass
        return format_html_join(" · ", "{}", ((link,) for link in links))

    @admin.display(description="metadata")
    def metadata_display(self, obj):
        return pretty_json(obj.metadata)

    @admin.display(description="versions")
    def versions(self, obj):
        return pretty_json(
            {k: obj.checkpoint.get(k) for k in ("channel_versions", "versions_seen")}
        )

    def loaded(self, obj):
        """The checkpoint as LangGraph loads it (once per page)."""
        if not hasattr(obj, "_loaded"):
            obj._loaded = saver.get_tuple(
                {
                    "configurable": {
                        "thread_id": obj.thread_id,
                        "checkpoint_ns": obj.checkpoint_ns,
                        "checkpoint_id": obj.checkpoint_id,
                    }
                }
            )
        return obj._loaded

    @admin.display(description="channel values")
    def channel_values(self, obj):
        loaded = self.loaded(obj)
        values = loaded.checkpoint["channel_values"] if loaded else {}
        if not values:
            return "-"
        return format_html_join(
            "",
            '<h4 style="margin: 1em 0 0.3em">{}</h4>{}',
            ((channel, render_value(value)) for channel, value in sorted(values.items())),
        )

    @admin.display(description="pending writes")
    def pending_writes(self, obj):
        loaded = self.loaded(obj)
        if not loaded or not loaded.pending_writes:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            (
                (task_id, channel, render_value(value))
                for task_id, channel, value in loaded.pending_writes
            ),
        )
        return format_html(
            "<table><thead><tr><th>task</th><th>channel</th><th>value</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )
