"""Doubletext against the reference server (LangGraph's in-memory `langgraph dev`), side by side.

Starts both on free ports: Doubletext embedded (fresh SQLite, DEBUG off, an API key,
`_server.servers()`), and the reference server from ../shared/reference-server (its
`agent.py` and `langgraph.json` copied to a temporary folder, so its `.langgraph_api`
files land there; run in the throwaway venv its README describes, /tmp/lg by default,
`--lg-venv`). Both run the same agent shape at the same speed: a reply of REPLY_WORDS
words, streamed token by token, `token_delay` per run.

Every figure of issue 15's table, measured in one run with the same client
(langgraph-sdk), alternating between the two servers trial by trial (the order
flips every trial), then printed as ours / theirs / ratio (medians; ratio > 1 means
we are slower, except throughput where it is runs/s and < 1 means slower):

- `GET /info`;
- `runs.get` of a finished run;
- `runs.create` with `multitask_strategy="interrupt"` on a thread whose run is streaming;
- the double-text reaction: from that create request's start until `runs.get` of the
  first run no longer says `running` (or 404: rolled back), and until `runs.get` of the
  second run no longer says `pending` (picked up); both polled back to back, at once,
  after the create returned, so their resolution is one `runs.get`; interrupt and
  rollback. (Not the first run's joined SSE stream ending: the reference server ends
  it ~0.45 s after the run is interrupted.)
- throughput at 10 and 50 threads at once, zero-delay agent (`runs.wait` back to back),
  and each side's CPU per run meanwhile (all its processes: ours, or the reference's
  `langgraph dev` and what it started): steadier than runs/s on a shared machine, and
  at 50 threads, where both are bound by one core's GIL, what throughput comes from;
- `get_state` on a thread with 5 and 200 prior runs, then a `runs.wait` there (one more
  message in that conversation, zero-delay agent).

    python bench/compare.py [--trials 30] [--runs-per-thread 5] [--skip-throughput]
    python bench/compare.py --postgres postgres://postgres@127.0.0.1:5432/postgres \
        --redis redis://127.0.0.1:6379/0     # production mode, see below

`BENCH_SERVER=uvicorn` serves ours with uvicorn instead of Daphne (bench/_server.py).

Production mode (`--postgres --redis`): Doubletext as deployed, 2 Daphne processes and
2 `runworker_runs` workers on a fresh PostgreSQL database and Redis, against the same
in-memory reference server. Our requests go to both Daphne processes in turn (a
double-text is created through one and its runs polled through the other, so the
cancel crosses Redis), as behind a load balancer.

The machine may be shared: compare only the two columns of one run.
"""

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _server import (
    ROOT,
    cpu_seconds,
    free_port,
    machine,
    percentile,
    process_stat,
    servers,
    wait_for_port,
)

REFERENCE = ROOT.parent / "shared" / "reference-server"
# Same reply length on both servers (the reference reads it from its environment).
REPLY_WORDS = 12
SLOW = {"configurable": {"token_delay": 0.25, "reply_words": REPLY_WORDS}}
ZERO = {"configurable": {"token_delay": 0, "reply_words": REPLY_WORDS}}


def user(text):
    return {"messages": [{"role": "user", "content": text}]}


@contextlib.contextmanager
def reference_server(venv: Path):
    """Run `langgraph dev` (in memory) on a free port; yield its URL."""
    langgraph = venv / "bin" / "langgraph"
    if not langgraph.exists():
        raise SystemExit(
            f"{langgraph} is missing: python3 -m venv {venv} && {venv}/bin/pip install "
            '"langgraph-cli[inmem]" langgraph langchain-core langgraph-sdk'
        )
    folder = Path(tempfile.mkdtemp(prefix="reference-server-"))
    for name in ("agent.py", "langgraph.json"):
        shutil.copy(REFERENCE / name, folder / name)
    port = free_port()
    env = dict(
        os.environ,
        LANGSMITH_TRACING="false",
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        DO_NOT_TRACK="1",
        PEER_TOKEN_DELAY="0.05",
        PEER_REPLY_WORDS=str(REPLY_WORDS),
        LOG_LEVEL="WARNING",
    )
    env.pop("LANGGRAPH_API_KEY", None)
    log = open(folder / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(langgraph), "dev", "--no-browser", "--host", "127.0.0.1", "--port", str(port)]
        + ["--no-reload"],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc, timeout=120)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


async def timed(coro) -> float:
    started = time.perf_counter()
    await coro
    return ms(started)


async def poll(client, tid: str, run_id: str, until) -> float:
    """`runs.get` back to back until `until(status)` holds (404: "gone"); the moment."""
    while True:
        try:
            status = (await client.runs.get(tid, run_id))["status"]
        except Exception as exc:  # a rolled-back run is deleted
            if getattr(getattr(exc, "response", None), "status_code", None) != 404:
                raise
            status = "gone"
        if until(status):
            return time.perf_counter()


async def double_text(client, strategy: str, watcher=None) -> dict:
    """Created through `client`, polled through `watcher` (another server of
    the same deployment, or the same one)."""
    watcher = watcher or client
    tid = (await client.threads.create())["thread_id"]
    first = await client.runs.create(tid, "agent", input=user("tell me a story"), config=SLOW)
    await poll(watcher, tid, first["run_id"], lambda status: status == "running")
    await asyncio.sleep(0.3)  # past its first token: it is streaming
    started = time.perf_counter()
    second = await client.runs.create(
        tid, "agent", input=user("hello again"), config=ZERO, multitask_strategy=strategy
    )
    created = ms(started)
    stopped, picked = await asyncio.gather(
        poll(watcher, tid, first["run_id"], lambda status: status != "running"),
        poll(watcher, tid, second["run_id"], lambda status: status != "pending"),
    )
    await watcher.runs.join(tid, second["run_id"])
    return {
        "create": created,
        "stopped": (stopped - started) * 1000,
        "picked": (picked - started) * 1000,
    }


async def throughput(side: "Side", threads: int, runs: int) -> tuple[float, float]:
    """Runs/s, and the side's CPU per run in ms (all its processes)."""

    async def one_thread(client):
        tid = (await client.threads.create())["thread_id"]
        for i in range(runs):
            await client.runs.wait(tid, "agent", input=user(f"q{i}"), config=ZERO)

    cpu = side.cpu()
    started = time.perf_counter()
    await asyncio.gather(*(one_thread(side.client(n)) for n in range(threads)))
    elapsed = time.perf_counter() - started
    return threads * runs / elapsed, (side.cpu() - cpu) / (threads * runs) * 1000


def session_cpu(leader: int) -> float:
    """CPU seconds of the processes in `leader`'s session (a server started
    with start_new_session=True, and whatever it started)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # gone meanwhile
            fields = process_stat(int(entry.name))
            if int(fields[3]) == leader:
                total += cpu_seconds(int(entry.name), fields)
    return total


async def thread_with_runs(client, runs: int) -> str:
    tid = (await client.threads.create())["thread_id"]
    for i in range(runs):
        await client.runs.wait(tid, "agent", input=user(f"question {i}"), config=ZERO)
    return tid


class Side:
    """One server under test, behind one URL or several (production mode)."""

    def __init__(self, clients: list, cpu):
        self.clients = clients
        self.cpu = cpu  # its processes' CPU seconds so far

    def client(self, i: int):
        return self.clients[i % len(self.clients)]


class Table:
    def __init__(self):
        self.rows: dict[str, dict[str, list[float]]] = {}

    def add(self, what: str, side: str, value: float) -> None:
        self.rows.setdefault(what, {"ours": [], "theirs": []})[side].append(value)

    def print(self) -> None:
        print("| what (median) | Doubletext | reference | ratio |\n|---|---|---|---|")
        for what, sides in self.rows.items():
            ours, theirs = percentile(sides["ours"], 50), percentile(sides["theirs"], 50)
            unit = "runs/s" if "runs/s" in what else "ms"
            print(f"| {what} | {ours:.1f} {unit} | {theirs:.1f} {unit} | {ours / theirs:.2f}× |")


async def main(args):
    from langgraph_sdk import get_client

    table = Table()
    production = bool(args.postgres)
    deployment = servers(
        postgres=args.postgres,
        redis=args.redis,
        daphnes=2 if production else 1,
        workers=2 if production else 0,
    )
    with deployment as urls, reference_server(Path(args.lg_venv)) as (ref_url, ref_proc):
        from _server import ALL

        sides = {
            "ours": Side(
                [get_client(url=url, timeout=60) for url in urls],
                lambda: sum(cpu_seconds(proc.pid) for _, proc in ALL),
            ),
            "theirs": Side(
                [get_client(url=ref_url, api_key=None, timeout=60)],
                lambda: session_cpu(ref_proc.pid),
            ),
        }
        versions = subprocess.run(
            [str(Path(args.lg_venv) / "bin" / "pip"), "list", "--format=freeze"],
            capture_output=True,
            text=True,
        ).stdout.split()
        wanted = ("langgraph-api", "langgraph==", "langgraph-runtime")
        versions = [v for v in versions if v.startswith(wanted)]
        server = os.environ.get("BENCH_SERVER", "daphne")
        mode = (
            f"production: postgresql + redis, 2 {server} + 2 workers"
            if production
            else f"embedded: sqlite, 1 {server}"
        )
        print(f"# Doubletext ({mode}) vs reference ({', '.join(versions)}); {machine()}")

        def order(i: int):
            return list(sides.items())[:: 1 if i % 2 == 0 else -1]

        # Warm up both (every server of ours): the first runs import and compile things.
        for side in sides.values():
            for n in range(len(side.clients)):
                await double_text(side.client(n), "interrupt", side.client(n + 1))
        finished = {}
        for name, side in sides.items():
            client = side.client(0)
            tid = (await client.threads.create())["thread_id"]
            run = await client.runs.create(tid, "agent", input=user("hi"), config=ZERO)
            await client.runs.join(tid, run["run_id"])
            finished[name] = (tid, run["run_id"])
        for i in range(args.trials * 5):
            for name, side in order(i):
                elapsed = await timed(side.client(i).http.get("/info"))
                table.add("`GET /info`", name, elapsed)
        for i in range(args.trials * 5):
            for name, side in order(i):
                elapsed = await timed(side.client(i).runs.get(*finished[name]))
                table.add("`runs.get`", name, elapsed)
        for i in range(args.trials):
            for strategy in ("interrupt", "rollback"):
                for name, side in order(i):
                    row = await double_text(side.client(i), strategy, side.client(i + 1))
                    table.add(f"`runs.create`, {strategy} on a busy thread", name, row["create"])
                    table.add(f"{strategy}: create → first run stopped", name, row["stopped"])
                    table.add(f"{strategy}: create → second run picked up", name, row["picked"])
        if not args.skip_throughput:
            for threads in (10, 50):
                for i in range(args.rounds):
                    for name, side in order(i):
                        rate, cpu = await throughput(side, threads, args.runs_per_thread)
                        table.add(f"throughput, {threads} threads (runs/s)", name, rate)
                        table.add(f"server CPU per run, {threads} threads", name, cpu)
        if not args.skip_state:
            for prior in (5, 200):
                tids = {
                    name: await thread_with_runs(side.client(0), prior)
                    for name, side in sides.items()
                }
                for i in range(args.trials * 2):
                    for name, side in order(i):
                        elapsed = await timed(side.client(i).threads.get_state(tids[name]))
                        table.add(f"`get_state`, {prior} prior runs", name, elapsed)
                # One more message in that conversation, answered at once.
                for i in range(args.trials):
                    for name, side in order(i):
                        wait = side.client(0).runs.wait(
                            tids[name], "agent", input=user(f"and {i}?"), config=ZERO
                        )
                        table.add(f"`runs.wait`, {prior} prior runs", name, await timed(wait))
    table.print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--runs-per-thread", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="throughput rounds per side")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-state", action="store_true")
    parser.add_argument("--lg-venv", default="/tmp/lg")
    parser.add_argument("--postgres", default="", help="production mode: admin URL")
    parser.add_argument("--redis", default="", help="production mode: Redis URL")
    if not Path(sys.executable).exists():
        raise SystemExit("no python")
    asyncio.run(main(parser.parse_args()))
