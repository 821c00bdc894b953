"""Threads and runs, assistants (and users' API keys).

A thread's state lives in LangGraph checkpoints (the `checkpoints` app), each
tagged with the run that wrote it, so rolling a run back is deleting the run
and the checkpoints it wrote, in one transaction.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager


class ThreadStatus(models.TextChoices):
    IDLE = "idle"
    BUSY = "busy"
    INTERRUPTED = "interrupted"
    ERROR = "error"


class RunStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"


ACTIVE_RUN_STATUSES = (RunStatus.PENDING, RunStatus.RUNNING)


class MultitaskStrategy(models.TextChoices):
    REJECT = "reject"
    ENQUEUE = "enqueue"
    INTERRUPT = "interrupt"
    ROLLBACK = "rollback"


class CancelAction(models.TextChoices):
    INTERRUPT = "interrupt"
    ROLLBACK = "rollback"


class Thread(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The user the thread (and its runs and checkpoints) belongs to: only they
    # see it through the API and the websocket; the admin sees every thread.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="threads"
    )
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ThreadStatus, default=ThreadStatus.IDLE)
    # The state's values and pending interrupts ({task id: [interrupt]}) as of
    # its latest checkpoint, as JSON: what a thread shows in lists and searches
    # without reading its checkpoints (kept by runs.services.persistence).
    values = models.JSONField(default=dict, blank=True)
    interrupts = models.JSONField(default=dict, blank=True)
    # A thread-less run's thread (on_completion "delete") is deleted from this
    # time on, once whoever waited for the run has read its values.
    expires_at = models.DateTimeField(null=True, blank=True)
    # The error of the run that left the thread in `error` ({"error",
    # "message"}); cleared when the thread settles in another status (a run
    # in flight keeps it, as on LangGraph Platform). See `set_status`.
    error = models.JSONField(null=True, blank=True)
    # Monotonic per-thread counter that orders runs (FIFO for enqueue). It is
    # only incremented with the thread row locked.
    run_counter = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When its state last changed (a run ended, an update, a rollback), not
    # its metadata or status: kept by runs.services.persistence.refresh_thread.
    state_updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        # One per sort that POST /threads/search offers (runs.services.threads
        # SORTS): a user's threads in that order, the id breaking ties, read
        # forwards or backwards.
        indexes = [
            models.Index(fields=["status"], name="thread_status_idx"),
            models.Index(fields=["owner", "updated_at", "id"], name="thread_owner_updated_idx"),
            models.Index(fields=["owner", "created_at", "id"], name="thread_owner_created_idx"),
            models.Index(
                fields=["owner", "state_updated_at", "id"], name="thread_owner_state_upd_idx"
            ),
            models.Index(fields=["owner", "status", "id"], name="thread_owner_status_idx"),
            models.Index(fields=["owner", "id"], name="thread_owner_id_idx"),
            models.Index(
                fields=["expires_at"],
                condition=Q(expires_at__isnull=False),
                name="thread_expires_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ThreadStatus.values), name="thread_status_valid"
            ),
        ]

    def __str__(self):
        return str(self.id)

    def set_status(self, status: str, *, error: dict | None = None) -> list[str]:
        """Set the status, and the error with it: `error` for ERROR, none once
        the thread settles otherwise (idle, interrupted); BUSY keeps the last
        one, as on LangGraph Platform. Returns the fields to save."""
        self.status = status
        if status == ThreadStatus.ERROR:
            self.error = error
        elif status != ThreadStatus.BUSY:
            self.error = None
        return ["status", "error"]

    def in_flight_runs(self):
        """Its pending and running runs, oldest first."""
        return self.runs.filter(status__in=ACTIVE_RUN_STATUSES).order_by("seq")


class Run(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="runs")
    seq = models.PositiveBigIntegerField(editable=False)
    assistant_id = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=RunStatus, default=RunStatus.PENDING)
    multitask_strategy = models.CharField(
        max_length=16, choices=MultitaskStrategy, default=MultitaskStrategy.ENQUEUE
    )
    input = models.JSONField(null=True, blank=True)
    # Everything else the run was created with: config, stream_mode, agent
    # options (delay, reply length), ... Passed to the agent as is.
    kwargs = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Cancellation request, written by the strategy service and read by the
    # executor between tokens; the executor also gets a channel-layer signal.
    cancel_action = models.CharField(max_length=16, choices=CancelAction, blank=True, default="")
    # The run whose creation (a double-text with interrupt) cancelled this one;
    # null when it was cancelled by hand or not at all. A plain id, not a
    # foreign key: that run may itself be rolled back later, and the chat's
    # timeline still names it (RolledBackRun keeps its id).
    cancelled_by = models.UUIDField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    # after_seconds: no worker claims the run before this time.
    not_before = models.DateTimeField(null=True, blank=True)
    # Executions started: a run whose worker was lost is resumed from its last
    # checkpoint by another worker, up to settings.RUNS_MAX_ATTEMPTS.
    attempt = models.PositiveSmallIntegerField(default=0)
    # Claim and lease: which worker executes the run and until when its claim
    # holds without a heartbeat.
    worker_id = models.CharField(max_length=128, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["thread", "seq"]
        indexes = [
            models.Index(fields=["thread", "status", "seq"], name="run_thread_status_seq_idx"),
            models.Index(fields=["status", "lease_expires_at"], name="run_status_lease_idx"),
            models.Index(fields=["thread", "-created_at"], name="run_thread_created_idx"),
        ]
        constraints = [
            # The invariant everything else relies on: at most one running run
            # per thread, enforced by the database itself.
            models.UniqueConstraint(
                fields=["thread"],
                condition=Q(status=RunStatus.RUNNING),
                name="one_running_run_per_thread",
            ),
            models.UniqueConstraint(fields=["thread", "seq"], name="run_thread_seq_unique"),
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="run_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(multitask_strategy__in=MultitaskStrategy.values),
                name="run_multitask_strategy_valid",
            ),
            models.CheckConstraint(
                condition=Q(cancel_action__in=["", *CancelAction.values]),
                name="run_cancel_action_valid",
            ),
        ]

    def __str__(self):
        return f"{self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


class RolledBackRun(models.Model):
    """A run that was rolled back. The run itself is deleted with every
    checkpoint and write it made (its id answers 404, as on the platform);
    this row remembers that it was there, so the chat's run timeline can
    still show it, struck through, with the run that erased it."""

    run_id = models.UUIDField(primary_key=True, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="rolled_back_runs")
    seq = models.PositiveBigIntegerField(editable=False)
    multitask_strategy = models.CharField(max_length=16, choices=MultitaskStrategy)
    input = models.JSONField(null=True, blank=True)
    # What it was doing when it was erased: pending (queued) or running.
    status = models.CharField(max_length=16, choices=RunStatus)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(default=timezone.now)
    # The run whose creation (a double-text with rollback) erased it; null when
    # it was rolled back by hand (a cancel with action rollback).
    rolled_back_by = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["thread", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["thread", "seq"], name="rolled_back_thread_seq_unique"),
            models.CheckConstraint(
                condition=Q(status__in=[RunStatus.PENDING, RunStatus.RUNNING]),
                name="rolled_back_run_was_in_flight",
            ),
            models.CheckConstraint(
                condition=Q(multitask_strategy__in=MultitaskStrategy.values),
                name="rolled_back_strategy_valid",
            ),
        ]

    def __str__(self):
        return f"{self.run_id} (rolled back)"


class Assistant(models.Model):
    """A configuration of a graph (LangGraph Platform's assistant): its config,
    context and metadata, versioned. The current fields are those of one of
    its versions (`version`), the latest unless set back (`set_latest`).

    `owner` NULL: a graph's default assistant, the server's own (one per
    graph of the registry, with the deterministic id the platform gives it),
    visible to every user and changed by none."""

    assistant_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="assistants",
    )
    graph_id = models.CharField(max_length=255)
    name = models.CharField(max_length=1024)
    # NULL, not "": the platform sends null for an assistant without one.
    description = models.TextField(null=True, blank=True)  # noqa: DJ001
    config = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # One per sort of POST /assistants/search that a user's list is read in
        # (runs.services.assistants SORTS), the id breaking ties.
        indexes = [
            models.Index(
                fields=["owner", "created_at", "assistant_id"], name="assistant_owner_created_idx"
            ),
            models.Index(
                fields=["owner", "updated_at", "assistant_id"], name="assistant_owner_updated_idx"
            ),
            models.Index(fields=["owner", "graph_id"], name="assistant_owner_graph_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="assistant_version_positive"),
            models.CheckConstraint(condition=~Q(graph_id=""), name="assistant_graph_id_not_empty"),
            models.CheckConstraint(condition=~Q(name=""), name="assistant_name_not_empty"),
        ]

    def __str__(self):
        return f"{self.name} ({self.assistant_id})"

    @property
    def is_default(self) -> bool:
        return self.owner_id is None


class AssistantVersion(models.Model):
    """One version of an assistant, as it was written (create, update): what
    `set_latest` makes current again."""

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    graph_id = models.CharField(max_length=255)
    name = models.CharField(max_length=1024)
    description = models.TextField(null=True, blank=True)  # noqa: DJ001
    config = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assistant", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["assistant", "version"], name="assistant_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1), name="assistant_version_row_positive"
            ),
            models.CheckConstraint(
                condition=~Q(graph_id=""), name="assistant_version_graph_not_empty"
            ),
        ]

    def __str__(self):
        return f"{self.assistant_id} v{self.version}"


class UserAPIKeyManager(BaseAPIKeyManager):
    def get_usable_keys(self):
        return super().get_usable_keys().select_related("user")


class UserAPIKey(AbstractAPIKey):
    """An API key of a user: what langgraph-sdk sends as `x-api-key`.

    Only a hash is stored (djangorestframework-api-key); the key itself is
    shown once, when it is created (admin or `manage.py create_api_key`).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )

    objects = UserAPIKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"


class OnRunCompleted(models.TextChoices):
    """What becomes of the thread a stateless cron creates for each run."""

    DELETE = "delete"
    KEEP = "keep"


class Cron(models.Model):
    """A run created on a schedule (a cron expression, croniter's syntax), on
    one thread, or on a new thread each time (stateless: `thread` null).

    `next_run_date` is the tick the workers fire next; a worker fires it by
    moving it on with a conditional UPDATE, and records the tick in
    `CronFiring`, whose unique constraint refuses a second firing of it
    (runs.services.crons.fire_cron)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="crons"
    )
    # A thread's crons go with it, as on the platform.
    thread = models.ForeignKey(
        Thread, null=True, blank=True, on_delete=models.CASCADE, related_name="crons"
    )
    assistant_id = models.CharField(max_length=128)
    schedule = models.CharField(max_length=256)
    # An IANA name; blank: UTC (the API shows null, as the platform does).
    timezone = models.CharField(max_length=64, blank=True, default="")
    # The run's creation body as the client sent it (input, config, context,
    # metadata, multitask_strategy, stream_mode, ...): what each run gets.
    payload = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    # Stateless crons only ("delete" by default); blank for a thread's cron.
    on_run_completed = models.CharField(
        max_length=8, choices=OnRunCompleted, blank=True, default=""
    )
    next_run_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # What the workers look for at every poll: enabled and due.
            models.Index(
                fields=["next_run_date"],
                condition=Q(enabled=True),
                name="cron_due_idx",
            ),
            models.Index(fields=["owner", "created_at", "id"], name="cron_owner_created_idx"),
            models.Index(fields=["owner", "thread", "id"], name="cron_owner_thread_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(schedule=""), name="cron_schedule_not_empty"),
            models.CheckConstraint(
                condition=(
                    Q(thread__isnull=True, on_run_completed__in=OnRunCompleted.values)
                    | Q(thread__isnull=False, on_run_completed="")
                ),
                name="cron_on_run_completed_stateless_only",
            ),
        ]

    def __str__(self):
        return f"{self.id} ({self.schedule})"


class CronFiring(models.Model):
    """One tick of a cron that a worker fired: the database refuses a second
    row for the same tick, so a tick creates at most one run however many
    workers race for it. Kept RUNS_CRON_FIRINGS_RETENTION_SECONDS."""

    cron = models.ForeignKey(Cron, on_delete=models.CASCADE, related_name="firings")
    scheduled_for = models.DateTimeField()
    # The run it created: an id, not a foreign key, so that deleting runs
    # (a rollback) costs no statement here; the run may since be gone.
    run_id = models.UUIDField(null=True, blank=True)
    # Why no run was created (e.g. `reject` on a busy thread), as {"error", "detail"}.
    error = models.JSONField(null=True, blank=True)
    worker_id = models.CharField(max_length=128, blank=True, default="")
    fired_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scheduled_for"]
        indexes = [models.Index(fields=["fired_at"], name="cron_firing_fired_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["cron", "scheduled_for"], name="cron_fires_once_per_tick"
            ),
        ]

    def __str__(self):
        return f"{self.cron_id} @ {self.scheduled_for.isoformat()}"
