"""Threads and runs (and users' API keys).

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
    # What this run's strategy did to the runs in flight when it was created
    # (interrupt or rollback): [{"run_id", "seq", "strategy", "action", "status",
    # "input", "stopped"?}], `input` the first words of their message, `stopped`
    # a rolled-back run's own record. Kept on this run because a
    # rolled-back run's row is deleted with its output: this is its only trace
    # (the admin shows it). Written once, by runs.services.runs.create_run.
    stopped_runs = models.JSONField(default=list, blank=True, editable=False)
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
