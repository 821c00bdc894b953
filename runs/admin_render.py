"""HTML for the admin: a conversation as a person reads it, a run's effect on
the runs before it, a thread's pending interrupts.

Everything goes through format_html / format_html_join, so whatever a message
holds (it may carry HTML) is shown as text, never run.
"""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from runs.graphs.serialization import message_text
from runs.services.chat_messages import input_excerpt, is_interrupted

ROLES = {"human": "user", "ai": "agent", "tool": "tool", "system": "system"}
ACTIONS = {"interrupt": "interrupted", "rollback": "rolled back"}


def pretty_json(value) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return format_html('<pre class="dt-json">{}</pre>', text)


def json_column(field: str, description: str | None = None):
    """An admin column (or read-only field) showing `field` as escaped, pretty JSON."""

    @admin.display(description=description or field)
    def column(model_admin, obj):
        return pretty_json(getattr(obj, field))

    return column


def tool_call_text(call: dict) -> str:
    """`get_weather(city: "sf")`: a call as one reads it."""
    args = call.get("args") or {}
    if isinstance(args, dict):
        shown = ", ".join(
            f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in args.items()
        )
    else:
        shown = json.dumps(args, ensure_ascii=False)
    return f"{call.get('name') or 'tool'}({shown})"


def render_message(message: dict) -> str:
    kind = message.get("type") or message.get("role") or "?"
    role = ROLES.get(kind, kind)
    text = message_text(message.get("content"))
    tags = []
    if is_interrupted(message):
        tags.append("interrupted")
    if kind == "tool":
        name = message.get("name") or "tool"
        body = format_html('<code class="dt-tool">{} → {}</code>', name, text)
    else:
        calls = format_html_join(
            "",
            '<code class="dt-tool dt-call">{}</code>',
            ((tool_call_text(call),) for call in message.get("tool_calls") or []),
        )
        body = format_html('{}<div class="dt-text">{}</div>', calls, text) if text else calls
    return format_html(
        '<div class="dt-message dt-{}"><div class="dt-role">{}{}</div>{}</div>',
        role,
        role,
        format_html_join("", ' <span class="dt-tag">{}</span>', ((t,) for t in tags)),
        body,
    )


def render_conversation(messages: list) -> str:
    if not messages:
        return format_html('<p class="dt-empty">{}</p>', "No messages.")
    return format_html(
        '<div class="dt-conversation">{}</div>',
        format_html_join("", "{}", ((render_message(m),) for m in messages if isinstance(m, dict))),
    )


def interrupt_summary(value) -> str:
    """What an interrupt asks, readable: its question and the tool calls it
    is about (the shape the demo's `hitl` graph and most agents use), then
    the whole value as JSON."""
    parts = []
    if isinstance(value, dict):
        if isinstance(value.get("question"), str):
            parts.append(format_html('<div class="dt-text">{}</div>', value["question"]))
        calls = value.get("tool_calls")
        if isinstance(calls, list):
            parts.extend(
                format_html('<code class="dt-tool dt-call">{}</code>', tool_call_text(call))
                for call in calls
                if isinstance(call, dict)
            )
    elif isinstance(value, str):
        parts.append(format_html('<div class="dt-text">{}</div>', value))
    raw = format_html("<details><summary>value (JSON)</summary>{}</details>", pretty_json(value))
    return format_html_join("", "{}", ((part,) for part in [*parts, raw]))


def render_interrupts(interrupts: list) -> str:
    """A thread's pending interrupts: what the graph asks a human."""
    if not interrupts:
        return format_html('<p class="dt-empty">{}</p>', "None: the thread waits for nobody.")
    items = format_html_join(
        "",
        "<li><strong>{}</strong> <small>interrupt id {}</small>{}</li>",
        (
            (
                "Waiting for a human",
                interrupt.get("id") or "-",
                interrupt_summary(interrupt.get("value")),
            )
            for interrupt in interrupts
        ),
    )
    return format_html('<ul class="dt-interrupts">{}</ul>', items)


def run_label(seq, run_input) -> str:
    words = input_excerpt(run_input, 60)
    return f"#{seq} “{words}”" if words else f"#{seq} (no input)"


def stopped_text(action: str, other) -> str:
    """`rolled back #1 “what's the weather in sf?” (was running)`."""
    words = input_excerpt(other.input, 60)
    quoted = f" “{words}”" if words else ""
    was = f" (was {other.status})" if action == "rollback" else ""
    return f"{ACTIONS.get(action, action)} #{other.seq}{quoted}{was}"


def render_effect(run, did: list, stopped_by=None) -> str:
    """What a run did to the runs before it ([(action, run or RolledBackRun)]),
    and what a later run did to it (`stopped_by`: a Run, or a RolledBackRun when
    that run was erased since)."""
    lines = [(stopped_text(action, other),) for action, other in did]
    action = ACTIONS.get(run.cancel_action, run.cancel_action)
    if stopped_by is None and run.cancel_action:
        # Stopped, but by no double-text: a cancel (the Stop button, the API, the admin).
        lines.append((f"{action} (cancelled)",))
    elif stopped_by is not None:
        if hasattr(stopped_by, "rolled_back_at"):  # a RolledBackRun: no page to link to
            by = format_html("{} by #{} (rolled back since)", action, stopped_by.seq)
        else:
            url = reverse("admin:runs_run_change", args=[stopped_by.pk])
            by = format_html('{} by <a href="{}">#{}</a>', action, url, stopped_by.seq)
        lines.append((by,))
    if not lines:
        return "-"
    return format_html_join(mark_safe("<br>"), "{}", lines)
