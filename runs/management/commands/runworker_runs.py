"""Run the run executor as a separate worker process (production mode)."""

import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chatapp.startup_gc import freeze_startup_objects
from runs.graphs.registry import registry
from runs.worker.executor import Executor


def event_loop_factory():
    """The worker's event loop (RUNS_WORKER_EVENT_LOOP): uvloop's, or asyncio's."""
    if settings.RUNS_WORKER_EVENT_LOOP == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError as error:
        raise CommandError(
            "RUNS_WORKER_EVENT_LOOP=uvloop needs uvloop installed (pip install uvloop), "
            "or set RUNS_WORKER_EVENT_LOOP=asyncio"
        ) from error
    return uvloop.new_event_loop


class Command(BaseCommand):
    help = "Execute pending runs: claim them, drive their agents, stream their tokens."

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.RUNS_WORKER_CONCURRENCY,
            help="Runs executed at once by this worker.",
        )
        parser.add_argument("--worker-id", default=None, help="Name of this worker (for leases).")

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO)
        registry().preload()  # not in the first run: "ready" means ready
        freeze_startup_objects()  # what it imported lives as long as the process
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(self._main(options["worker_id"], options["concurrency"]))

    async def _main(self, worker_id, concurrency):
        executor = Executor(worker_id=worker_id, concurrency=concurrency)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await executor.start()
        self.stdout.write(f"worker {executor.worker_id} ready", ending="\n")
        self.stdout.flush()
        await stop.wait()
        # Finish what we can within RUNS_SHUTDOWN_GRACE_SECONDS, settle the rest.
        await executor.shutdown()
