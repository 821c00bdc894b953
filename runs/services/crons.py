"""Crons: runs created on a schedule, on a thread or on a new thread each time.

A cron keeps the body of the run it creates (`payload`) and its next tick
(`next_run_date`). The workers call `fire_due_crons` at every poll: a due
cron is fired by moving its `next_run_date` on with a conditional UPDATE (the
worker whose UPDATE matched the tick wins; the others match nothing) and by
recording the tick in `CronFiring`, whose unique constraint refuses a second
firing of the same tick; the run is created in that same transaction, through
`runs.create_run`, so it follows the thread's double-texting strategy like any
other run. A crash before the commit undoes all three: another worker fires
the tick.

Schedules are cron expressions as croniter reads them (what LangGraph Platform
validates them with): five fields, or six with seconds last
(`* * * * * */10`: every ten seconds), or `@hourly` and the like, in
`timezone` (an IANA name; UTC when null). As on the platform, a cron whose
ticks were missed (no worker running) fires once when a worker sees it, then
at its next tick after now: missed ticks are not caught up.

`now` is a parameter of everything that reads the clock, so tests move time
instead of waiting for it.
"""

import logging
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone as dj_timezone

from runs.graphs.validation import check_options
from runs.models import Cron, CronFiring, OnRunCompleted, Run
from runs.services import actors, assistants, json_match, runs
from runs.services import chat_messages as msgs
from runs.services.errors import (
    AssistantNotFound,
    Conflict,
    CronNotFound,
    InvalidRequest,
    RunsError,
)
from runs.services.ids import parse_id
from runs.services.paging import Page, Sorts, fetch_page, selected_fields
from runs.services.representation import cron_dict
from runs.services.threads import get_thread

logger = logging.getLogger(__name__)


# The fields of a run's creation a cron keeps and passes on to each run.
RUN_FIELDS = (
    "assistant_id",
    "input",
    "config",
    "context",
    "metadata",
    "multitask_strategy",
    "interrupt_before",
    "interrupt_after",
    "durability",
    "stream_mode",
    "stream_subgraphs",
    "stream_resumable",
)
# Of those, how the run executes (runs.create_run's `kwargs`).
EXECUTION_FIELDS = (
    "interrupt_before",
    "interrupt_after",
    "durability",
    "stream_mode",
    "stream_subgraphs",
    "stream_resumable",
)
# POST /runs/crons/search's orders and what `select` may name (the platform's).
SORTS = Sorts(
    {
        "cron_id": "pk",
        "assistant_id": "assistant_id",
        "thread_id": "thread_id",
        "created_at": "created_at",
        "updated_at": "updated_at",
        "next_run_date": "next_run_date",
        "end_time": "end_time",
    },
    default="created_at",
)
SELECTABLE = (
    "cron_id",
    "assistant_id",
    "thread_id",
    "end_time",
    "schedule",
    "timezone",
    "created_at",
    "updated_at",
    "user_id",
    "payload",
    "next_run_date",
    "metadata",
    "on_run_completed",
    "enabled",
)


# -- schedules -----------------------------------------------------------------


def check_schedule(schedule) -> str:
    if not isinstance(schedule, str) or not croniter.is_valid(schedule):
        raise InvalidRequest(
            f"Invalid cron schedule {schedule!r}: use the cron format (minute hour "
            "day-of-month month day-of-week, optionally seconds last), e.g. '*/5 * * * *'.",
            field="schedule",
        )
    return schedule


def check_timezone(name) -> str:
    """An IANA time zone name ("" for none: UTC)."""
    if name in (None, ""):
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidRequest(
            f"Unknown timezone {name!r}: use an IANA name, e.g. 'Europe/Paris'.", field="timezone"
        ) from None
    return name


def next_run_date(schedule: str, tz: str, after: datetime) -> datetime | None:
    """The first tick of `schedule` strictly after `after`, in UTC; the
    schedule is read in `tz` (UTC when blank), so '0 9 * * *' in
    Europe/Paris is 9:00 there, summer and winter. None if it never ticks."""
    base = after.astimezone(ZoneInfo(tz) if tz else UTC)
    try:
        tick = croniter(schedule, base).get_next(datetime)
    except (CroniterBadCronError, CroniterBadDateError):
        return None
    return tick.astimezone(UTC)


# -- who sees which crons --------------------------------------------------------


def visible_crons(actor):
    actors.check_actor(actor)
    crons = Cron.objects.select_related("owner")
    return crons if actor is actors.SYSTEM else crons.filter(owner=actor)


def get_cron(cron_id, *, actor) -> Cron:
    pk = parse_id(cron_id, field="cron_id", not_found=CronNotFound)
    cron = visible_crons(actor).filter(pk=pk).first()
    if cron is None:
        raise CronNotFound(f"Cron {cron_id} not found.", field="cron_id")
    return cron


def _assistant(assistant_id, *, actor) -> assistants.Resolved:
    """The assistant a cron's runs run, resolved as a run's creation resolves
    it (a graph id, a default assistant's UUID, or an assistant of `actor`'s);
    the cron keeps its UUID, as the platform does. AssistantNotFound when it
    names nothing `actor` may use."""
    return assistants.resolve(assistant_id, actor=actor)


def _run_payload(fields: dict, assistant: assistants.Resolved) -> dict:
    """The run's fields, checked now as a run's creation would check them
    (under the assistant's options), so a bad cron is a 4xx now rather than
    failed runs later."""
    payload = {name: fields[name] for name in RUN_FIELDS if fields.get(name) is not None}
    if "metadata" in payload and not isinstance(payload["metadata"], dict):
        raise InvalidRequest("metadata must be an object.", field="metadata")
    config, context = assistants.merged_options(
        assistant, payload.get("config"), payload.get("context")
    )
    check_options(assistant.graph_id, config, context)
    try:
        msgs.normalise_input(payload.get("input"))
    except msgs.MessageError as error:
        raise InvalidRequest(error.message, field=error.field) from None
    return payload


def _with_cron_id(payload: dict, cron_id) -> dict:
    """The cron's id in each run's `config.configurable`, as on the platform,
    so a graph can tell which cron started it."""
    config = dict(payload.get("config") or {})
    config["configurable"] = {**(config.get("configurable") or {}), "cron_id": str(cron_id)}
    return {**payload, "config": config}


# -- create, update, delete, search --------------------------------------------------


def create_cron(
    *,
    actor,
    assistant_id: str,
    schedule: str,
    thread_id=None,
    payload: dict | None = None,
    timezone: str | None = None,
    end_time: datetime | None = None,
    enabled: bool | None = None,
    on_run_completed: str | None = None,
    now: datetime | None = None,
) -> Cron:
    """A cron of `actor`: on their thread `thread_id`, or stateless (a new
    thread per run, deleted after it unless `on_run_completed` is "keep").
    `payload`: the run's fields (RUN_FIELDS). Raises ThreadNotFound,
    AssistantNotFound, InvalidRequest."""
    owner = actors.owner_of_new_threads(actor)
    now = now or dj_timezone.now()
    schedule = check_schedule(schedule)
    tz = check_timezone(timezone)
    assistant = _assistant(assistant_id, actor=actor)
    kept_assistant = assistant.assistant_id
    fields = _run_payload({**(payload or {}), "assistant_id": kept_assistant}, assistant)
    thread = None
    if thread_id is not None:
        if on_run_completed is not None:
            raise InvalidRequest(
                "on_run_completed applies to crons without a thread.", field="on_run_completed"
            )
        thread = get_thread(thread_id, actor=actor)
    elif on_run_completed is None:
        on_run_completed = OnRunCompleted.DELETE
    elif on_run_completed not in OnRunCompleted.values:
        raise InvalidRequest(
            f"on_run_completed must be one of {OnRunCompleted.values}.", field="on_run_completed"
        )
    # Each cron may fire every second: a cap keeps one user's crons from
    # filling the workers (a race past it adds one cron at most per request).
    if Cron.objects.filter(owner=owner).count() >= settings.RUNS_MAX_CRONS_PER_USER:
        raise Conflict(
            f"You have {settings.RUNS_MAX_CRONS_PER_USER} crons, the most allowed: "
            "delete one first."
        )
    cron_id = uuid.uuid4()
    return Cron.objects.create(
        id=cron_id,
        owner=owner,
        thread=thread,
        assistant_id=kept_assistant,
        schedule=schedule,
        timezone=tz,
        payload=_with_cron_id(fields, cron_id),
        metadata=fields.get("metadata") or {},
        end_time=end_time,
        enabled=True if enabled is None else bool(enabled),
        on_run_completed=on_run_completed or "",
        next_run_date=next_run_date(schedule, tz, now),
    )


# What PATCH /runs/crons/{id} may change besides the run's fields.
CRON_SETTINGS = ("schedule", "timezone", "end_time", "enabled", "on_run_completed")


def update_cron(cron_id, *, actor, changes: dict, now: datetime | None = None) -> Cron:
    """Change a cron, as the platform does: `metadata` is merged into the
    cron's, the run's fields replace theirs, a new schedule or time zone
    starts from now, `end_time` None clears it. Enabling a cron whose next
    tick has passed starts from now too, rather than firing a stale tick."""
    if not changes:
        raise InvalidRequest("Nothing to update.", field="body")
    for name in changes:
        if name not in CRON_SETTINGS and (name not in RUN_FIELDS or name == "assistant_id"):
            raise InvalidRequest(f"A cron's {name} cannot be changed.", field=name)
    now = now or dj_timezone.now()
    with transaction.atomic():
        cron = get_cron(cron_id, actor=actor)
        cron = Cron.objects.select_for_update().select_related("owner").get(pk=cron.pk)
        reschedule = False
        if changes.get("schedule") is not None:
            cron.schedule = check_schedule(changes["schedule"])
            reschedule = True
        if changes.get("timezone") is not None:
            cron.timezone = check_timezone(changes["timezone"])
            reschedule = True
        if "end_time" in changes:
            cron.end_time = changes["end_time"]
        if changes.get("on_run_completed") is not None:
            if cron.thread_id is not None:
                raise InvalidRequest(
                    "on_run_completed applies to crons without a thread.",
                    field="on_run_completed",
                )
            if changes["on_run_completed"] not in OnRunCompleted.values:
                raise InvalidRequest(
                    f"on_run_completed must be one of {OnRunCompleted.values}.",
                    field="on_run_completed",
                )
            cron.on_run_completed = changes["on_run_completed"]
        if changes.get("enabled") is not None:
            enabling = bool(changes["enabled"]) and not cron.enabled
            cron.enabled = bool(changes["enabled"])
            if enabling and (cron.next_run_date is None or cron.next_run_date <= now):
                reschedule = True
        run_changes = {
            name: value
            for name, value in changes.items()
            if name in RUN_FIELDS and name != "assistant_id" and value is not None
        }
        if run_changes:
            assistant = _assistant(cron.assistant_id, actor=cron.owner)
            merged = _run_payload({**cron.payload, **run_changes}, assistant)
            cron.payload = _with_cron_id(merged, cron.pk)
            if "metadata" in run_changes:
                cron.metadata = {**cron.metadata, **run_changes["metadata"]}
        if reschedule:
            cron.next_run_date = next_run_date(cron.schedule, cron.timezone, now)
        cron.save()
    return cron


def delete_cron(cron_id, *, actor) -> None:
    cron = get_cron(cron_id, actor=actor)
    Cron.objects.filter(pk=cron.pk).delete()


def set_enabled(cron_id, enabled: bool, *, actor, now: datetime | None = None) -> Cron:
    return update_cron(cron_id, actor=actor, changes={"enabled": enabled}, now=now)


def _matching(actor, *, assistant_id=None, thread_id=None, enabled=None, metadata=None):
    crons = visible_crons(actor)
    if assistant_id is not None:
        try:
            crons = crons.filter(assistant_id=_assistant(assistant_id, actor=actor).assistant_id)
        except AssistantNotFound:
            return crons.none()
    if thread_id is not None:
        crons = crons.filter(thread_id=parse_id(thread_id, field="thread_id"))
    if enabled is not None:
        crons = crons.filter(enabled=enabled)
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("metadata must be an object.", field="metadata")
    return json_match.contains(crons, "metadata", metadata)


def search_crons(
    *,
    actor,
    assistant_id=None,
    thread_id=None,
    enabled: bool | None = None,
    metadata: dict | None = None,
    limit: int = 10,
    offset: int = 0,
    sort_by: str | None = None,
    sort_order: str | None = None,
    select: list[str] | None = None,
) -> Page:
    """The actor's crons matching the filters, newest first unless sorted."""
    order = SORTS.order_by(sort_by, sort_order)
    fields = selected_fields(select, selectable=SELECTABLE, default=SELECTABLE)
    crons = _matching(
        actor, assistant_id=assistant_id, thread_id=thread_id, enabled=enabled, metadata=metadata
    )
    return fetch_page(
        crons.order_by(*order),
        offset=offset,
        limit=limit,
        render=lambda row: cron_dict(row, fields),
    )


def count_crons(*, actor, assistant_id=None, thread_id=None, metadata=None) -> int:
    return _matching(
        actor, assistant_id=assistant_id, thread_id=thread_id, metadata=metadata
    ).count()


# -- firing ----------------------------------------------------------------------


def _live(now: datetime) -> Q:
    """Enabled, due, not past its end, and its owner's account still active
    (a deactivated account's crons stop with it)."""
    return Q(enabled=True, next_run_date__lte=now, owner__is_active=True) & (
        Q(end_time__isnull=True) | Q(end_time__gt=now)
    )


def due_crons(now: datetime, limit: int = 100) -> list[tuple]:
    """(cron id, tick) of the crons due at `now`, the most overdue first."""
    return list(
        Cron.objects.filter(_live(now))
        .order_by("next_run_date")
        .values_list("pk", "next_run_date")[:limit]
    )


def fire_cron(cron_id, tick: datetime, *, now: datetime, worker_id: str = "") -> CronFiring | None:
    """Fire the cron's tick `tick`, once: returns its firing (with the run,
    or the error that prevented it), or None when the tick is not ours to fire
    (another worker fired it, or the cron changed, was disabled or deleted).
    The claim, the firing row and the run are one transaction."""
    try:
        with transaction.atomic():
            # Locked, skipping a cron another worker is firing right now: it
            # moves on to the next one instead of waiting for that one's run.
            cron = (
                Cron.objects.select_related("owner")
                .select_for_update(skip_locked=True, of=("self",))
                .filter(_live(now), pk=cron_id, next_run_date=tick)
                .first()
            )
            if cron is None:
                return None
            following = next_run_date(cron.schedule, cron.timezone, max(now, tick))
            # The claim, which does not rely on the lock above (SQLite has no
            # row locks; a lock skipped is no guarantee): only one UPDATE
            # matches the tick; a concurrent one waits for our row lock, then
            # matches nothing (PostgreSQL re-reads the row; SQLite's writers
            # are serialised).
            claimed = Cron.objects.filter(pk=cron.pk, next_run_date=tick).update(
                next_run_date=following
            )
            if not claimed:
                return None
            firing = CronFiring.objects.create(cron=cron, scheduled_for=tick, worker_id=worker_id)
            try:
                with transaction.atomic():
                    firing.run_id = _create_run(cron).pk
            except RunsError as error:
                # E.g. `reject` on a busy thread, its assistant gone: the tick
                # is spent, as on the platform; the firing says why.
                firing.error = {"error": error.code, "detail": error.message}
                logger.info("cron %s at %s created no run: %s", cron.pk, tick, error.message)
            except Exception as error:
                # Not the client's doing (a graph that no longer imports, a
                # deadlock): spent too, rather than retried at every poll.
                firing.error = {"error": type(error).__name__, "detail": str(error)[:1000]}
                logger.exception("cron %s at %s: creating its run failed", cron.pk, tick)
            firing.save(update_fields=["run_id", "error"])
            return firing
    except IntegrityError:
        # The firing row of this tick exists: someone else fired it.
        return None


def _create_run(cron: Cron) -> Run:
    payload = cron.payload
    metadata = {**cron.metadata, **(payload.get("metadata") or {})}
    kwargs = {name: payload[name] for name in EXECUTION_FIELDS if name in payload}
    thread_id, if_not_exists = cron.thread_id, None
    if thread_id is None:
        thread_id, if_not_exists = str(uuid.uuid4()), "create"
        kwargs["on_completion"] = cron.on_run_completed or OnRunCompleted.DELETE
    return runs.create_run(
        thread_id,
        actor=cron.owner,
        assistant_id=payload.get("assistant_id", cron.assistant_id),
        input=payload.get("input"),
        multitask_strategy=payload.get("multitask_strategy"),
        config=payload.get("config"),
        context=payload.get("context"),
        metadata=metadata,
        kwargs=kwargs,
        if_not_exists=if_not_exists,
    )


def fire_due_crons(
    *, now: datetime | None = None, worker_id: str = "", limit: int = 100
) -> list[CronFiring]:
    """Fire every cron due at `now` (the worker's poll). Each tick is fired by
    one caller only, however many call this at once."""
    now = now or dj_timezone.now()
    fired = []
    for cron_id, tick in due_crons(now, limit):
        try:
            firing = fire_cron(cron_id, tick, now=now, worker_id=worker_id)
        except DatabaseError:
            # Rolled back, tick and all (e.g. the cron's thread deleted at the
            # same moment): the next poll tries again; the other crons go on.
            logger.exception("firing cron %s at %s failed", cron_id, tick)
            continue
        if firing is not None:
            fired.append(firing)
    return fired


def sweep_firings(retention_seconds: float, *, now: datetime | None = None) -> int:
    """Forget firings older than the retention: a tick that has passed is never
    due again (next_run_date only moves forward, or to after now)."""
    now = now or dj_timezone.now()
    cutoff = now - timedelta(seconds=retention_seconds)
    deleted, _ = CronFiring.objects.filter(fired_at__lt=cutoff).delete()
    return deleted
