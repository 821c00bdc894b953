"""Request bodies of the REST API. Unknown fields of the older endpoints
(runs, threads) are ignored, as the platform ignores fields that do not
apply; the assistants' and crons' bodies (`StrictSerializer`) refuse them,
naming the field: the SDKs send only fields that Doubletext honours there, so
anything else is a mistake worth naming."""

from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chatapp.platform.drf_fields import ShallowCopiedFields
from runs.api.sse import STREAM_MODES
from runs.models import CancelAction, MultitaskStrategy, ThreadStatus
from runs.services import assistants, crons, json_paths, paging, threads

# Paging past this is refused (422) rather than overflowing a database integer.
MAX_OFFSET = 2**31 - 1
# A run delayed longer than a week is more likely a mistake than a plan.
MAX_AFTER_SECONDS = 7 * 24 * 3600

MESSAGE_SCHEMA = {
    "oneOf": [
        {"type": "string", "description": "A user message's text."},
        {
            "type": "object",
            "properties": {
                "role": {"type": "string", "enum": ["user", "assistant", "system", "tool"]},
                "type": {"type": "string", "enum": ["human", "ai", "system", "tool"]},
                "content": {"oneOf": [{"type": "string"}, {"type": "array", "items": {}}]},
                "id": {"type": "string"},
                "tool_call_id": {"type": "string"},
            },
            "additionalProperties": True,
        },
    ]
}
INPUT_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {"messages": {"type": "array", "items": MESSAGE_SCHEMA}},
    "additionalProperties": True,
}


# A request body or query: its fields copied per request, not rebuilt
# (chatapp.platform.drf_fields). A comment, not a docstring: the schema would
# take it as the description of every body without one of its own.
class Body(ShallowCopiedFields, serializers.Serializer):
    pass


class JSONObjectField(serializers.JSONField):
    default_error_messages = {"not_object": "Must be a JSON object."}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value is not None and not isinstance(value, dict):
            self.fail("not_object")
        return value


class StreamModeField(serializers.JSONField):
    default_error_messages = {"invalid_mode": "Must be a stream mode or a list of them."}

    def to_internal_value(self, data):
        modes = [data] if isinstance(data, str) else data
        # Strings only: a list of objects must be refused, not hashed for the lookup.
        if not isinstance(modes, list) or not all(
            isinstance(m, str) and m in STREAM_MODES for m in modes
        ):
            self.fail("invalid_mode")
        return modes


class StrictSerializer(Body):
    """A body whose every field is honoured: a field it does not know is
    refused (422 naming it), never silently dropped."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = [key for key in data if key not in self.fields]
            if unknown:
                raise serializers.ValidationError(
                    {str(unknown[0]): [f"Unknown field; the fields are {sorted(self.fields)}."]}
                )
        return super().to_internal_value(data)


def _text(max_length: int | None = None, **kwargs):
    return serializers.CharField(
        required=False,
        allow_null=True,
        trim_whitespace=False,
        max_length=max_length,
        **kwargs,
    )


class AssistantCreateSerializer(StrictSerializer):
    """A new assistant of the caller's, at version 1; unknown fields refused."""

    graph_id = serializers.CharField(max_length=255)
    assistant_id = serializers.UUIDField(required=False, allow_null=True)
    config = JSONObjectField(required=False, allow_null=True)
    context = JSONObjectField(required=False, allow_null=True)
    metadata = JSONObjectField(required=False, allow_null=True)
    if_exists = serializers.ChoiceField(
        choices=assistants.IF_EXISTS, required=False, allow_null=True
    )
    name = _text(1024, allow_blank=True, help_text='Default "Untitled".')
    description = _text(allow_blank=True)


class AssistantPatchSerializer(StrictSerializer):
    """A new version: what is given replaces the current value (metadata is
    merged); unknown fields refused."""

    graph_id = _text(255)
    config = JSONObjectField(required=False, allow_null=True)
    context = JSONObjectField(required=False, allow_null=True)
    metadata = JSONObjectField(required=False, allow_null=True)
    name = _text(1024, allow_blank=True)
    description = _text(allow_blank=True)


class AssistantCountSerializer(StrictSerializer):
    """Assistants the caller sees that match; unknown fields refused."""

    metadata = JSONObjectField(required=False, allow_null=True)
    graph_id = _text(255)
    name = _text(1024, allow_blank=True, help_text="Part of the name, any case.")


class AssistantSearchSerializer(AssistantCountSerializer):
    """A page of the assistants the caller sees that match; unknown fields refused."""

    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)
    sort_by = serializers.ChoiceField(
        choices=assistants.SORTS.names, required=False, allow_null=True
    )
    sort_order = serializers.ChoiceField(
        choices=paging.SORT_ORDERS, required=False, allow_null=True
    )
    select = serializers.ListField(
        child=serializers.ChoiceField(choices=assistants.SELECTABLE),
        required=False,
        allow_null=True,
    )


class AssistantVersionsSerializer(StrictSerializer):
    """An assistant's versions, newest first; unknown fields refused."""

    metadata = JSONObjectField(required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


class AssistantLatestSerializer(StrictSerializer):
    """The version to make current; unknown fields refused."""

    version = serializers.IntegerField(min_value=1, max_value=MAX_OFFSET)


class AssistantDeleteQuerySerializer(Body):
    delete_threads = serializers.BooleanField(default=False)


class SubgraphsQuerySerializer(Body):
    recurse = serializers.BooleanField(default=False)


class GraphQuerySerializer(Body):
    xray = serializers.BooleanField(default=False)


SUPERSTEPS_SCHEMA = {
    "type": "array",
    "nullable": True,
    "description": "Updates applied to the new thread's state in order, each superstep one "
    "checkpoint (the thread needs metadata.graph_id).",
    "items": {
        "type": "object",
        "required": ["updates"],
        "properties": {
            "updates": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["as_node"],
                    "properties": {
                        "values": {"type": "object", "nullable": True},
                        "as_node": {"type": "string"},
                        "command": {
                            "type": "object",
                            "nullable": True,
                            "description": "Not supported: null only.",
                        },
                    },
                },
            }
        },
    },
}


@extend_schema_field(SUPERSTEPS_SCHEMA)
class SuperstepsField(serializers.JSONField):
    """Checked by runs.services.state.apply_supersteps, which names the field
    of a bad update (`supersteps[0].updates[1].as_node`)."""


@extend_schema_field({"nullable": True, "description": "Not supported: refused unless null."})
class RefusedField(serializers.JSONField):
    """A field of the platform's API that Doubletext does not honour: refused
    (422 naming it) unless null, never silently dropped."""

    default_error_messages = {"refused": "{reason}"}

    def __init__(self, reason: str, **kwargs):
        self.reason = reason
        super().__init__(required=False, allow_null=True, **kwargs)

    def to_internal_value(self, data):
        self.fail("refused", reason=self.reason)


NO_TTL = "Doubletext does not expire threads: delete or prune them instead."


class ThreadCreateSerializer(Body):
    thread_id = serializers.UUIDField(required=False, allow_null=True)
    metadata = JSONObjectField(required=False, allow_null=True)
    if_exists = serializers.ChoiceField(choices=["raise", "do_nothing"], required=False)
    supersteps = SuperstepsField(required=False, allow_null=True)
    ttl = RefusedField(NO_TTL)


class ThreadPatchSerializer(Body):
    metadata = JSONObjectField()
    ttl = RefusedField(NO_TTL)


class ThreadCountSerializer(Body):
    metadata = JSONObjectField(required=False, allow_null=True)
    values = JSONObjectField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=ThreadStatus.choices, required=False, allow_null=True)


class ThreadSearchSerializer(ThreadCountSerializer):
    ids = serializers.ListField(child=serializers.UUIDField(), required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)
    sort_by = serializers.ChoiceField(choices=threads.SORTS.names, required=False, allow_null=True)
    sort_order = serializers.ChoiceField(
        choices=paging.SORT_ORDERS, required=False, allow_null=True
    )
    select = serializers.ListField(
        child=serializers.ChoiceField(choices=threads.SELECTABLE),
        required=False,
        allow_null=True,
    )
    extract = serializers.DictField(
        child=serializers.CharField(max_length=json_paths.MAX_PATH_CHARS, trim_whitespace=False),
        required=False,
        allow_null=True,
        help_text="alias: path, e.g. {'last': 'values.messages[-1].content'}; at most 10 paths, "
        "starting with values, metadata, config or interrupts.",
    )


class ThreadPruneSerializer(Body):
    thread_ids = serializers.ListField(child=serializers.UUIDField(), max_length=1000)
    strategy = serializers.ChoiceField(choices=threads.PRUNE_STRATEGIES, default="delete")


class CheckpointSerializer(Body):
    checkpoint_id = serializers.CharField(max_length=128)
    checkpoint_ns = serializers.CharField(required=False, allow_blank=True, default="")
    thread_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    checkpoint_map = JSONObjectField(required=False, allow_null=True)


class StateAtCheckpointSerializer(Body):
    checkpoint = CheckpointSerializer()
    subgraphs = serializers.BooleanField(default=False)
    select = RefusedField("Selecting parts of a state is not supported: the whole state is sent.")


class CheckpointIdField(serializers.JSONField):
    """A checkpoint as clients name it: its id, {"checkpoint_id": ...} or a
    config {"configurable": {"checkpoint_id": ...}}. The id, or None."""

    default_error_messages = {"invalid_checkpoint": "Must name a checkpoint (checkpoint_id)."}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if isinstance(value, dict):
            value = (value.get("configurable") or value).get("checkpoint_id")
        if value is not None and not isinstance(value, str):
            self.fail("invalid_checkpoint")
        return value


class StateQuerySerializer(Body):
    subgraphs = serializers.BooleanField(default=False)


class StateUpdateSerializer(Body):
    values = serializers.JSONField(allow_null=True)
    as_node = serializers.CharField(required=False, allow_null=True)
    checkpoint = CheckpointIdField(required=False, allow_null=True)
    checkpoint_id = serializers.CharField(required=False, allow_null=True)

    def validate(self, data):
        data["checkpoint_id"] = data.get("checkpoint_id") or data.pop("checkpoint", None)
        return data


class HistorySerializer(Body):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    before = CheckpointIdField(required=False, allow_null=True)
    metadata = JSONObjectField(required=False, allow_null=True)
    checkpoint = JSONObjectField(required=False, allow_null=True)


@extend_schema_field(INPUT_SCHEMA)
class RunInputField(serializers.JSONField):
    """A run's input: the state update it starts with, usually {"messages": [...]}."""


class CommandField(serializers.JSONField):
    """LangGraph's Command: `resume` (a value, or {interrupt id: value}),
    `goto` (a node, a {"node", "input"} Send, or a list of them), `update`
    (state values, or a list of [key, value] pairs)."""

    default_error_messages = {
        "not_object": "Must be an object with resume, goto and/or update.",
        "unknown": "Unknown command key(s): {keys}; use resume, goto, update.",
        "goto": "goto must be a node name, a {{node, input}} object, or a list of them.",
        "update": "update must be an object or a list of [key, value] pairs.",
    }

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail("not_object")
        unknown = set(value) - {"resume", "goto", "update"}
        if unknown:
            self.fail("unknown", keys=", ".join(sorted(unknown)))
        goto = value.get("goto")
        for target in goto if isinstance(goto, list) else [goto]:
            if not (
                target is None
                or isinstance(target, str)
                or (isinstance(target, dict) and isinstance(target.get("node"), str))
            ):
                self.fail("goto")
        update = value.get("update")
        if update is not None and not isinstance(update, dict | list):
            self.fail("update")
        return value


class InterruptNodesField(serializers.JSONField):
    default_error_messages = {"invalid": 'Must be "*" or a list of node names.'}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value is None or value == "*":
            return value
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            self.fail("invalid")
        return value


class RunCreateSerializer(Body):
    """Every field of the platform's run creation: honoured, or refused (422
    naming it) when Doubletext does not do what it asks. Unknown fields are
    ignored, as the platform ignores them. The README has the table."""

    assistant_id = serializers.CharField(max_length=128)
    input = RunInputField(required=False, allow_null=True)
    command = CommandField(required=False, allow_null=True)
    config = JSONObjectField(required=False, allow_null=True)
    context = JSONObjectField(required=False, allow_null=True)
    metadata = JSONObjectField(required=False, allow_null=True)
    multitask_strategy = serializers.ChoiceField(
        choices=MultitaskStrategy.choices, required=False, allow_null=True
    )
    stream_mode = StreamModeField(required=False, allow_null=True)
    stream_subgraphs = serializers.BooleanField(required=False, default=False)
    stream_resumable = serializers.BooleanField(required=False, default=False)
    if_not_exists = serializers.ChoiceField(
        choices=["reject", "create"], required=False, allow_null=True
    )
    checkpoint = CheckpointIdField(required=False, allow_null=True)
    checkpoint_id = serializers.CharField(required=False, allow_null=True)
    interrupt_before = InterruptNodesField(required=False, allow_null=True)
    interrupt_after = InterruptNodesField(required=False, allow_null=True)
    durability = serializers.ChoiceField(
        choices=["sync", "async", "exit"], required=False, allow_null=True
    )
    checkpoint_during = serializers.BooleanField(required=False, allow_null=True)
    after_seconds = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=MAX_AFTER_SECONDS
    )
    on_disconnect = serializers.ChoiceField(
        choices=["cancel", "continue"], required=False, allow_null=True
    )
    on_completion = serializers.ChoiceField(
        choices=["delete", "keep"], required=False, allow_null=True
    )
    # Asked for and not done: refused rather than dropped.
    webhook = serializers.JSONField(required=False, allow_null=True)
    feedback_keys = serializers.JSONField(required=False, allow_null=True)
    strict_resume = serializers.JSONField(required=False, allow_null=True)

    def validate_webhook(self, value):
        if value:
            raise serializers.ValidationError("Doubletext does not call webhooks.")
        return None

    def validate_feedback_keys(self, value):
        if value:
            raise serializers.ValidationError("Doubletext records no LangSmith feedback.")
        return None

    def validate_strict_resume(self, value):
        if value:
            raise serializers.ValidationError("strict_resume is not supported.")
        return None

    def validate(self, data):
        # One checkpoint id, however it came (`checkpoint`, `checkpoint_id`).
        data["checkpoint_id"] = data.get("checkpoint_id") or data.pop("checkpoint", None)
        # The deprecated flag, as LangGraph maps it, unless durability is given.
        during = data.pop("checkpoint_during", None)
        if data.get("durability") is None and during is not None:
            data["durability"] = "async" if during else "exit"
        return data


# Runs one POST /runs/batch may create (each also counts against the rate limit).
MAX_BATCH = 100


class CancelManySerializer(Body):
    """POST /runs/cancel: the runs of one thread, or every run in a status."""

    thread_id = serializers.UUIDField(required=False, allow_null=True)
    run_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, allow_null=True, max_length=1000
    )
    status = serializers.ChoiceField(
        choices=["pending", "running", "all"], required=False, allow_null=True
    )

    def validate(self, data):
        by_ids = data.get("thread_id") is not None or data.get("run_ids")
        if by_ids == (data.get("status") is not None):
            raise serializers.ValidationError(
                {"status": ["Give either thread_id with run_ids, or status."]}
            )
        if by_ids and not (data.get("thread_id") and data.get("run_ids")):
            field = "run_ids" if data.get("thread_id") else "thread_id"
            raise serializers.ValidationError({field: ["thread_id and run_ids go together."]})
        return data


class CancelSerializer(Body):
    wait = serializers.BooleanField(default=False)
    action = serializers.ChoiceField(choices=CancelAction.choices, default=CancelAction.INTERRUPT)


class RunListSerializer(Body):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)
    status = serializers.CharField(required=False, allow_null=True)


class ThreadStreamSerializer(Body):
    """A thread's stream: `run_modes` (each run's parts), `lifecycle` (only
    when runs start and end), `state_update` (the state after each step)."""

    stream_mode = serializers.ListField(
        child=serializers.ChoiceField(choices=["run_modes", "lifecycle", "state_update"]),
        required=False,
    )


class JoinSerializer(Body):
    cancel_on_disconnect = serializers.BooleanField(default=False)


class JoinStreamSerializer(JoinSerializer):
    stream_mode = StreamModeField(required=False, allow_null=True)


class CronRunFieldsSerializer(StrictSerializer):
    """The fields of the run a cron creates (as in RunCreateSerializer)."""

    input = RunInputField(required=False, allow_null=True)
    config = JSONObjectField(required=False, allow_null=True)
    context = JSONObjectField(required=False, allow_null=True)
    metadata = JSONObjectField(required=False, allow_null=True)
    interrupt_before = InterruptNodesField(required=False, allow_null=True)
    interrupt_after = InterruptNodesField(required=False, allow_null=True)
    durability = serializers.ChoiceField(
        choices=["sync", "async", "exit"], required=False, allow_null=True
    )
    checkpoint_during = serializers.BooleanField(required=False, allow_null=True)
    stream_mode = StreamModeField(required=False, allow_null=True)
    stream_subgraphs = serializers.BooleanField(required=False, allow_null=True)
    stream_resumable = serializers.BooleanField(required=False, allow_null=True)
    webhook = RefusedField("Doubletext does not call webhooks.")
    timezone = serializers.CharField(required=False, allow_null=True, max_length=64)
    enabled = serializers.BooleanField(required=False, allow_null=True)
    on_run_completed = serializers.ChoiceField(
        choices=["delete", "keep"], required=False, allow_null=True
    )

    def validate(self, data):
        # The deprecated flag, as LangGraph maps it, unless durability is given.
        during = data.pop("checkpoint_during", None)
        if data.get("durability") is None and during is not None:
            data["durability"] = "async" if during else "exit"
        return data


class CronCreateSerializer(CronRunFieldsSerializer):
    """POST /runs/crons and POST /threads/{id}/runs/crons."""

    assistant_id = serializers.CharField(max_length=128)
    schedule = serializers.CharField(max_length=256)
    end_time = serializers.DateTimeField(required=False, allow_null=True)
    multitask_strategy = serializers.ChoiceField(
        choices=MultitaskStrategy.choices, required=False, allow_null=True
    )


class CronPatchSerializer(CronRunFieldsSerializer):
    """PATCH /runs/crons/{id}: what is given changes; `end_time` null clears it."""

    schedule = serializers.CharField(max_length=256, required=False, allow_null=True)
    end_time = serializers.DateTimeField(required=False, allow_null=True)


class CronCountSerializer(StrictSerializer):
    assistant_id = serializers.CharField(max_length=128, required=False, allow_null=True)
    thread_id = serializers.UUIDField(required=False, allow_null=True)
    metadata = JSONObjectField(required=False, allow_null=True)


class CronSearchSerializer(CronCountSerializer):
    enabled = serializers.BooleanField(required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)
    sort_by = serializers.ChoiceField(choices=crons.SORTS.names, required=False, allow_null=True)
    sort_order = serializers.ChoiceField(
        choices=paging.SORT_ORDERS, required=False, allow_null=True
    )
    select = serializers.ListField(
        child=serializers.ChoiceField(choices=crons.SELECTABLE), required=False, allow_null=True
    )
