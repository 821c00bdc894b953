"""Prometheus metrics (`GET /metrics`), with the official client library.

Two kinds, because runs are executed by worker processes that serve no HTTP:

- read from the database when scraped, the same from whichever server
  process answers: runs by status, the queue (pending runs that are due: how
  many, how long the oldest has waited), and the durations of the runs that
  ended in the last RUN_WINDOW_SECONDS (a gauge histogram: what recent runs
  took, not a counter since the start of a process);
- counted in the process that sees them, as Prometheus expects of each
  scraped target: open websockets, and double-texts (a run created while its
  thread had one in flight) by strategy and outcome (accepted, or rejected by
  `reject`). Scrape every server process to add them up.

Crons are read from the database too: how many (enabled or not), how late the
most overdue enabled one is (growing: no worker is firing them), and the
ticks fired in the last RUN_WINDOW_SECONDS with a run or an error.
"""

from datetime import timedelta

from django.db.models import Count, F, Min, Q
from django.utils import timezone
from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily

from runs.models import Cron, CronFiring, Run, RunStatus

RUN_WINDOW_SECONDS = 3600
DURATION_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800)

websockets = Gauge("doubletext_websockets_active", "Chat websockets open in this process.")
double_texts = Counter(
    "doubletext_double_texts",
    "Runs created on a thread with a run in flight, by strategy and outcome.",
    ["strategy", "outcome"],
)


def double_text(strategy: str, outcome: str) -> None:
    double_texts.labels(strategy=strategy, outcome=outcome).inc()


class DatabaseCollector:
    """What the database says at scrape time (a few aggregate queries)."""

    def collect(self):
        by_status = GaugeMetricFamily(
            "doubletext_runs", "Runs by status (rolled-back runs are deleted).", labels=["status"]
        )
        counts = dict(Run.objects.values_list("status").annotate(n=Count("pk")))
        for status in RunStatus.values:
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status

        now = timezone.now()
        due = Run.objects.filter(status=RunStatus.PENDING).filter(
            Q(not_before__isnull=True) | Q(not_before__lte=now)
        )
        queue = due.aggregate(n=Count("pk"), oldest=Min("created_at"))
        yield GaugeMetricFamily(
            "doubletext_queue_depth", "Pending runs that are due.", value=queue["n"]
        )
        waited = (now - queue["oldest"]).total_seconds() if queue["oldest"] else 0.0
        yield GaugeMetricFamily(
            "doubletext_queue_oldest_wait_seconds",
            "How long the oldest due pending run has waited.",
            value=waited,
        )

        yield from self.crons(now)

        ended = Run.objects.filter(
            ended_at__gte=now - timedelta(seconds=RUN_WINDOW_SECONDS), started_at__isnull=False
        ).annotate(took=F("ended_at") - F("started_at"))
        durations = sorted(took.total_seconds() for took in ended.values_list("took", flat=True))
        buckets, at = [], 0
        for bound in DURATION_BUCKETS:
            while at < len(durations) and durations[at] <= bound:
                at += 1
            buckets.append((str(bound), at))
        buckets.append(("+Inf", len(durations)))
        yield GaugeHistogramMetricFamily(
            "doubletext_recent_run_duration_seconds",
            f"Durations of the runs that ended in the last {RUN_WINDOW_SECONDS} s.",
            buckets=buckets,
            gsum_value=sum(durations),
        )

    def crons(self, now):
        count = GaugeMetricFamily("doubletext_crons", "Crons, enabled or not.", labels=["enabled"])
        counts = dict(Cron.objects.values_list("enabled").annotate(n=Count("pk")))
        for enabled in (True, False):
            count.add_metric([str(enabled).lower()], counts.get(enabled, 0))
        yield count
        oldest = (
            Cron.objects.filter(enabled=True, next_run_date__lte=now, owner__is_active=True)
            .filter(Q(end_time__isnull=True) | Q(end_time__gt=now))
            .aggregate(due=Min("next_run_date"))["due"]
        )
        yield GaugeMetricFamily(
            "doubletext_crons_overdue_seconds",
            "How long ago the most overdue enabled cron's tick was (0: none due).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
        recent = CronFiring.objects.filter(
            fired_at__gte=now - timedelta(seconds=RUN_WINDOW_SECONDS)
        ).aggregate(
            runs=Count("pk", filter=Q(run_id__isnull=False)),
            errors=Count("pk", filter=Q(error__isnull=False)),
        )
        fired = GaugeMetricFamily(
            "doubletext_recent_cron_firings",
            f"Cron ticks fired in the last {RUN_WINDOW_SECONDS} s, by outcome.",
            labels=["outcome"],
        )
        fired.add_metric(["run"], recent["runs"])
        fired.add_metric(["error"], recent["errors"])
        yield fired


_registered = False


def registry():
    """The process's registry, with the database collector in it (once)."""
    global _registered
    if not _registered:
        REGISTRY.register(DatabaseCollector())
        _registered = True
    return REGISTRY
