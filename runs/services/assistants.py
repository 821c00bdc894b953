"""Assistants: configurations of the graphs, versioned, as on LangGraph Platform.

- Each graph the server serves has a **default assistant**: the server's own
  (`owner` NULL), with the id the platform gives it (uuid5 of the graph id,
  `registry.assistant_uuid`), named after the graph, visible to every user and
  changed by none (403). Their rows are created when first needed
  (`sync_defaults`): the database may be new, the langgraph.json may list a
  new graph.
- A user's assistants belong to them: another user's is not found (404),
  exactly like one that does not exist, as with threads.
- An update writes a new version (the fields given replace the current ones,
  metadata is merged into them); `set_latest` makes an earlier version current
  again. Versions are never changed.
- An assistant of a graph the server no longer serves is not found, as on the
  platform (its rows stay, and come back with the graph).

`resolve` is the one function that turns a run's `assistant_id` into the graph
and the options it runs with: `runs.create_run` calls it, so every way of
creating a run (REST, batch, websocket, crons) runs a user's assistant with
its config and context under the run's own (`merged_options`).
"""

import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.db.models.functions import Lower

from runs.graphs import registry
from runs.graphs.validation import check_options
from runs.models import (
    ACTIVE_RUN_STATUSES,
    Assistant,
    AssistantVersion,
    CancelAction,
    Cron,
    Run,
)
from runs.services import actors, json_match, threads
from runs.services.cancellation import cancel_locked, refresh_thread_status
from runs.services.errors import (
    AssistantNotFound,
    AssistantReadOnly,
    Conflict,
    GraphNotFound,
    InvalidRequest,
    VersionNotFound,
)
from runs.services.ids import parse_id
from runs.services.paging import Page, Sorts, fetch_page, selected_fields
from runs.services.representation import ASSISTANT_FIELDS, assistant_dict

# POST /assistants/search's orders (the platform's); names and graph ids
# compare case-insensitively, as the platform's do.
# Names and graph ids sort regardless of case.
SORTS = Sorts(
    {
        "assistant_id": "pk",
        "graph_id": Lower("graph_id"),
        "name": Lower("name"),
        "created_at": "created_at",
        "updated_at": "updated_at",
    },
    default="created_at",
)
SELECTABLE = ASSISTANT_FIELDS
IF_EXISTS = ("raise", "do_nothing")
# A new assistant's name when none is given (the platform's).
UNTITLED = "Untitled"
SYSTEM_METADATA = {"created_by": "system"}
SYSTEM = actors.SYSTEM


@dataclass(frozen=True)
class Resolved:
    """What a run of an assistant runs: its graph, with the assistant's options."""

    assistant_id: str  # the assistant's UUID, as the run and its thread record it
    graph_id: str
    config: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)


# --- who sees what --------------------------------------------------------


def _served() -> list[str]:
    return registry.registry().ids()


def visible_assistants(actor):
    """The assistants `actor` may see: the defaults and their own (SYSTEM:
    all), of the graphs the server serves."""
    actors.check_actor(actor)
    found = Assistant.objects.filter(graph_id__in=_served())
    if actor is SYSTEM:
        return found
    return found.filter(Q(owner__isnull=True) | Q(owner=actor))


def _owner_of_new(actor):
    actors.check_actor(actor)
    if actor is SYSTEM:
        raise TypeError("assistants belong to a user; SYSTEM has only the defaults")
    return actor


def sync_defaults() -> None:
    """Create the served graphs' default assistants that are missing, and
    give the others the description their langgraph.json gives now (as the
    platform does when it starts); one query when nothing changed. Concurrent
    callers may both insert: the primary key and the version's unique
    constraint keep one of each."""
    specs = registry.registry().specs
    wanted = {uuid.UUID(registry.assistant_uuid(graph_id)): graph_id for graph_id in specs}
    present = dict(
        Assistant.objects.filter(pk__in=wanted, owner__isnull=True).values_list("pk", "description")
    )
    for pk, description in present.items():
        if description != specs[wanted[pk]].description:
            Assistant.objects.filter(pk=pk).update(description=specs[wanted[pk]].description)
            AssistantVersion.objects.filter(assistant_id=pk).update(
                description=specs[wanted[pk]].description
            )
    missing = [pk for pk in wanted if pk not in present]
    if not missing:
        return
    rows = {
        pk: {
            "graph_id": wanted[pk],
            "name": wanted[pk],
            "description": specs[wanted[pk]].description,
            "metadata": dict(SYSTEM_METADATA),
        }
        for pk in missing
    }
    with transaction.atomic():
        Assistant.objects.bulk_create(
            [Assistant(assistant_id=pk, owner=None, **row) for pk, row in rows.items()],
            ignore_conflicts=True,
        )
        AssistantVersion.objects.bulk_create(
            [AssistantVersion(assistant_id=pk, version=1, **row) for pk, row in rows.items()],
            ignore_conflicts=True,
        )


def _not_found(assistant_id) -> AssistantNotFound:
    return AssistantNotFound(f"Assistant {assistant_id} not found.", field="assistant_id")


def _pk(assistant_id) -> uuid.UUID:
    """The UUID an assistant id names: a graph id names its default assistant;
    anything else that is not a UUID is simply not found."""
    if not isinstance(assistant_id, str | uuid.UUID):
        raise _not_found(assistant_id)
    graph_id = registry.resolve(assistant_id)
    if graph_id is not None:
        sync_defaults()
        return uuid.UUID(registry.assistant_uuid(graph_id))
    return parse_id(assistant_id, field="assistant_id", not_found=AssistantNotFound)


def get_assistant(assistant_id, *, actor) -> Assistant:
    found = visible_assistants(actor).filter(pk=_pk(assistant_id)).first()
    if found is None:
        raise _not_found(assistant_id)
    return found


def _lock_own(assistant_id, *, actor) -> Assistant:
    """The assistant, locked for the rest of the transaction, to change it:
    a default one is refused (403)."""
    found = visible_assistants(actor).select_for_update().filter(pk=_pk(assistant_id)).first()
    if found is None:
        raise _not_found(assistant_id)
    if found.is_default:
        raise AssistantReadOnly(
            f"Assistant {found.pk} is the default assistant of graph {found.graph_id!r}: "
            "the server's, not to be changed. Create an assistant of that graph instead "
            "(POST /assistants).",
            field="assistant_id",
        )
    return found


# --- runs -----------------------------------------------------------------


def resolve(assistant_id, *, actor) -> Resolved:
    """The graph and options a run of `assistant_id` (a graph id, a default
    assistant's UUID, or an assistant of `actor`'s) runs with. A default
    assistant needs no query: it has no options of its own."""
    if not isinstance(assistant_id, str | uuid.UUID):  # a websocket frame's JSON, say
        raise AssistantNotFound(f"Assistant {assistant_id!r} not found.", field="assistant_id")
    graph_id = registry.resolve(assistant_id)
    if graph_id is not None:
        return Resolved(registry.assistant_uuid(graph_id), graph_id)
    pk = parse_id(assistant_id, field="assistant_id", not_found=AssistantNotFound)
    assistant = visible_assistants(actor).filter(pk=pk).first()
    if assistant is None:
        raise AssistantNotFound(f"Assistant {assistant_id!r} not found.", field="assistant_id")
    return Resolved(str(assistant.pk), assistant.graph_id, assistant.config, assistant.context)


def merged_options(assistant: Resolved, config, context) -> tuple[dict | None, dict | None]:
    """A run's config and context with its assistant's under them (the run's
    keys win), as the platform merges them: config key by key, and
    `configurable` key by key inside it; context key by key. A run's options
    that are not objects are returned as they are, for the run's checks to
    refuse.

    An assistant keeps its options in both places (`_in_step`), and graphs
    may read both, `context` first (runs.graphs.options): an option the run
    sets in either place is dropped from the assistant's in the other, so the
    run's wins however each of them gave it."""
    if config is not None and not isinstance(config, dict):
        return config, context
    if context is not None and not isinstance(context, dict):
        return config, context
    run_configurable = (config or {}).get("configurable") or {}
    if not isinstance(run_configurable, dict):
        return config, context
    run_context = context or {}
    if assistant.config:
        ours = {
            key: value
            for key, value in (assistant.config.get("configurable") or {}).items()
            if key not in run_context
        }
        config = {**assistant.config, **(config or {})}
        if ours or run_configurable:
            config["configurable"] = {**ours, **run_configurable}
    if assistant.context:
        ours = {
            key: value for key, value in assistant.context.items() if key not in run_configurable
        }
        context = {**ours, **run_context}
    return config, context


# --- create, update, delete -----------------------------------------------


def _object(value, name: str) -> dict | None:
    if value is not None and not isinstance(value, dict):
        raise InvalidRequest(f"{name} must be an object.", field=name)
    return value


def _served_graph(graph_id) -> str:
    if not isinstance(graph_id, str) or graph_id not in _served():
        raise GraphNotFound(
            f"Graph {graph_id!r} not found; the server serves {sorted(_served())}.",
            field="graph_id",
        )
    return graph_id


def _in_step(config: dict, context) -> tuple[dict, dict | None]:
    """An assistant's config and context kept in step, as the platform keeps
    them: `config.configurable` is the context. Both at once is refused."""
    configurable = config.get("configurable")
    if configurable is not None and not isinstance(configurable, dict):
        raise InvalidRequest("config.configurable must be an object.", field="config.configurable")
    if configurable and context:
        raise InvalidRequest(
            "Give the assistant's options as context or as config.configurable, not both "
            "(context is LangGraph's replacement for configurable).",
            field="context",
        )
    if configurable:
        context = dict(configurable)
    elif context:
        config = {**config, "configurable": dict(context)}
    return config, context


def _name(name) -> str:
    if name is not None and not isinstance(name, str):
        raise InvalidRequest("name must be a string.", field="name")
    return name or UNTITLED


def create_assistant(
    *,
    actor,
    graph_id: str,
    config: dict | None = None,
    context: dict | None = None,
    metadata: dict | None = None,
    assistant_id=None,
    if_exists: str | None = None,
    name: str | None = None,
    description: str | None = None,
) -> Assistant:
    """Create an assistant of `actor` for a served graph, at version 1.

    `if_exists` ("raise", the default, or "do_nothing") says what an
    `assistant_id` already taken does: 409, or return that assistant if the
    actor may see it (another user's is always a conflict)."""
    owner = _owner_of_new(actor)
    if_exists = if_exists or "raise"
    if if_exists not in IF_EXISTS:
        raise InvalidRequest(f"if_exists must be one of {list(IF_EXISTS)}.", field="if_exists")
    graph_id = _served_graph(graph_id)
    # The defaults first: they are the server's, older than any user's (the
    # platform creates them when it starts), whatever was read before.
    sync_defaults()
    # Checked as given, so that an error names the field the client sent.
    check_options(graph_id, config, context)
    config, context = _in_step(dict(config or {}), context)
    context = context or {}
    metadata = _object(metadata, "metadata") or {}
    name = _name(name)
    pk = None
    if assistant_id is not None:
        try:
            pk = uuid.UUID(str(assistant_id))
        except ValueError:
            raise InvalidRequest("assistant_id must be a UUID.", field="assistant_id") from None
    fields = {
        "graph_id": graph_id,
        "name": name,
        "description": description,
        "config": config,
        "context": context,
        "metadata": metadata,
    }
    try:
        with transaction.atomic():
            if pk is not None:
                existing = Assistant.objects.filter(pk=pk).first()
                if existing is not None:
                    mine = existing.owner_id in (None, owner.pk)
                    if if_exists == "do_nothing" and mine:
                        return existing
                    raise Conflict(f"Assistant {pk} already exists.", field="assistant_id")
            assistant = Assistant.objects.create(
                owner=owner, version=1, **({"assistant_id": pk} if pk else {}), **fields
            )
            AssistantVersion.objects.create(assistant=assistant, version=1, **fields)
    except IntegrityError:
        # Another request created the same id in between.
        raise Conflict(f"Assistant {pk} already exists.", field="assistant_id") from None
    return assistant


def update_assistant(
    assistant_id,
    *,
    actor,
    graph_id: str | None = None,
    config: dict | None = None,
    context: dict | None = None,
    metadata: dict | None = None,
    name: str | None = None,
    description: str | None = None,
) -> Assistant:
    """Write a new version of an assistant of `actor` and make it current.
    What is given replaces the current value (`config` when not empty, as on
    the platform); `metadata` is merged into the current metadata."""
    _object(config, "config")
    _object(context, "context")
    _object(metadata, "metadata")
    if name is not None:
        _name(name)
    with transaction.atomic():
        assistant = _lock_own(assistant_id, actor=actor)
        graph_id = _served_graph(graph_id) if graph_id is not None else assistant.graph_id
        check_options(graph_id, config, context)
        given_config, given_context = _in_step(dict(config or {}), context)
        new_config = given_config or assistant.config
        new_context = given_context if given_context is not None else assistant.context
        check_options(graph_id, new_config, new_context)
        latest = assistant.versions.aggregate(latest=Max("version"))["latest"] or 0
        fields = {
            "graph_id": graph_id,
            "config": new_config,
            "context": new_context,
            "metadata": {**assistant.metadata, **(metadata or {})},
            "name": name or assistant.name,
            "description": description if description is not None else assistant.description,
        }
        AssistantVersion.objects.create(assistant=assistant, version=latest + 1, **fields)
        for key, value in fields.items():
            setattr(assistant, key, value)
        assistant.version = latest + 1
        assistant.save()
    return assistant


def set_latest(assistant_id, *, actor, version: int) -> Assistant:
    """Make one of the versions of an assistant of `actor` its current one."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidRequest("version must be an integer.", field="version")
    with transaction.atomic():
        assistant = _lock_own(assistant_id, actor=actor)
        chosen = assistant.versions.filter(version=version).first()
        if chosen is None:
            raise VersionNotFound(
                f"Assistant {assistant.pk} has no version {version}.", field="version"
            )
        for key in ("graph_id", "config", "context", "metadata", "name", "description"):
            setattr(assistant, key, getattr(chosen, key))
        assistant.version = chosen.version
        assistant.save()
    return assistant


def delete_assistant(assistant_id, *, actor, delete_threads: bool = False) -> None:
    """Delete an assistant of `actor` with its versions and crons. Its runs in flight
    are interrupted, as on the platform; with `delete_threads`, the actor's
    threads it last ran on (`metadata.assistant_id`) are deleted as DELETE
    /threads/{id} deletes them."""
    with transaction.atomic():
        assistant = _lock_own(assistant_id, actor=actor)
        key = str(assistant.pk)
        if delete_threads:
            stamped = json_match.contains(
                actors.visible_threads(actor), "metadata", {"assistant_id": key}
            )
            for thread_id in stamped.order_by("pk").values_list("pk", flat=True):
                threads.delete_thread(thread_id, actor=actor)
        in_flight = (
            Run.objects.filter(assistant_id=key, status__in=ACTIVE_RUN_STATUSES)
            .filter(actors.thread_filter(actor, "thread__"))
            .values_list("thread_id", flat=True)
            .distinct()
        )
        for thread_id in sorted(set(in_flight)):
            thread = threads.lock_thread(thread_id, actor=actor)
            runs = list(thread.in_flight_runs().filter(assistant_id=key))
            cancel_locked(thread, runs, action=CancelAction.INTERRUPT)
            refresh_thread_status(thread)
        # Its crons go with it, as on the platform: they would only fail now.
        Cron.objects.filter(assistant_id=key).delete()
        assistant.delete()


# --- search ---------------------------------------------------------------


def _matching(actor, *, metadata=None, graph_id=None, name=None):
    if graph_id is not None:
        _served_graph(graph_id)
    sync_defaults()
    found = visible_assistants(actor)
    found = json_match.contains(found, "metadata", _object(metadata, "metadata") or {})
    if graph_id is not None:
        found = found.filter(graph_id=graph_id)
    if name:
        if not isinstance(name, str):
            raise InvalidRequest("name must be a string.", field="name")
        found = found.filter(name__icontains=name)
    return found


def search_assistants(
    *,
    actor,
    metadata: dict | None = None,
    graph_id: str | None = None,
    name: str | None = None,
    limit: int = 10,
    offset: int = 0,
    sort_by: str | None = None,
    sort_order: str | None = None,
    select: list[str] | None = None,
) -> Page:
    """The assistants `actor` sees that match: each `metadata` key with that
    value (compared whole, as for threads), of `graph_id`, whose name contains
    `name` (case-insensitive); a page of them, as dicts of the `select`ed
    fields (all by default)."""
    found = _matching(actor, metadata=metadata, graph_id=graph_id, name=name)
    fields = selected_fields(select, selectable=SELECTABLE, default=ASSISTANT_FIELDS)
    found = found.order_by(*SORTS.order_by(sort_by, sort_order))
    return fetch_page(
        found, offset=offset, limit=limit, render=lambda row: assistant_dict(row, fields)
    )


def count_assistants(*, actor, metadata=None, graph_id=None, name=None) -> int:
    """How many assistants `actor` sees that match (search_assistants' filters)."""
    return _matching(actor, metadata=metadata, graph_id=graph_id, name=name).count()


def list_versions(
    assistant_id, *, actor, metadata: dict | None = None, limit: int = 10, offset: int = 0
) -> list[AssistantVersion]:
    """An assistant's versions whose metadata has each given key with that
    value, newest first."""
    assistant = get_assistant(assistant_id, actor=actor)
    versions = json_match.contains(
        assistant.versions.all(), "metadata", _object(metadata, "metadata") or {}
    )
    return list(versions.order_by("-version")[offset : offset + limit])
