"""get_state and rollback latency on a thread with few vs many prior runs.

Reading the state is one index probe on the latest checkpoint, and rollback
deletes only the rows of the rolled-back run, so both must stay flat as the
history grows. Prints medians and p95 for 5 and 200 prior runs, and the ratio.

The state itself does grow with the history: after 200 runs it holds their
400 messages, and reading it means sending them. A third thread separates the
two: 5 prior runs, then one state update that adds as many messages as the
200-run thread has, so its state is as large but its history short. If
reading scanned history, 200 runs would be slower than that thread; if the
time is the state's size, they are equal (the last ratio printed).

    python bench/state_latency.py [--postgres URL --redis URL] [--trials 50]
"""

import argparse
import asyncio
import time

from _server import machine, percentile, servers, summary

ZERO = {"configurable": {"token_delay": 0, "reply_words": 5}}
SLOW = {"configurable": {"token_delay": 0.05, "reply_words": 200}}


def user(text):
    return {"messages": [{"role": "user", "content": text}]}


async def measure(client, prior: int, trials: int, pad_to: int = 0) -> tuple[list, list, int]:
    """Latencies of reads and rollbacks on a thread with `prior` runs, its state
    padded (with one state update, no run) to `pad_to` messages; and how many
    messages its state holds."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    for i in range(prior):
        await client.runs.wait(tid, "agent", input=user(f"question {i}"), config=ZERO)
    have = (await client.threads.get_state(tid))["values"]["messages"]
    if pad_to > len(have):
        filler = [{"role": m["type"], "content": m["content"]} for m in have]
        filler = (filler * (pad_to // len(filler) + 1))[: pad_to - len(have)]
        for m in filler:
            m["role"] = {"human": "user", "ai": "assistant"}.get(m["role"], "user")
        await client.threads.update_state(tid, {"messages": filler})
    size = len((await client.threads.get_state(tid))["values"]["messages"])
    reads = []
    for _ in range(trials):
        started = time.perf_counter()
        await client.threads.get_state(tid)
        reads.append((time.perf_counter() - started) * 1000)
    rollbacks = []
    for i in range(max(trials // 5, 5)):
        run = await client.runs.create(tid, "agent", input=user(f"to roll back {i}"), config=SLOW)
        # Let it start streaming, then roll it back.
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        await client.runs.cancel(tid, run["run_id"], action="rollback", wait=True)
        rollbacks.append((time.perf_counter() - started) * 1000)
    return reads, rollbacks, size


async def main(args):
    from langgraph_sdk import get_client

    with servers(
        postgres=args.postgres, redis=args.redis, workers=2 if args.postgres else 0
    ) as urls:
        client = get_client(url=urls[0])
        await client.threads.get_state((await client.threads.create())["thread_id"])  # warm up
        results = {}
        for prior in (5, 200):
            results[prior] = await measure(client, prior, args.trials)
        results["5 (same size)"] = await measure(client, 5, args.trials, pad_to=results[200][2])
    mode = "postgres+redis" if args.postgres else "embedded sqlite"
    print(f"# state latency ({mode}); {machine()}")
    for prior, (reads, rollbacks, size) in results.items():
        print(summary(f"get_state, {prior:>3} prior runs, {size} messages", reads))
        print(summary(f"rollback,  {prior:>3} prior runs", rollbacks))
    for label, index in (("get_state", 0), ("rollback", 1)):
        ratio = percentile(results[200][index], 50) / percentile(results[5][index], 50)
        print(f"{label} median ratio 200/5 runs: {ratio:.2f}")
    same = percentile(results[200][0], 50) / percentile(results["5 (same size)"][0], 50)
    print(f"get_state median ratio 200 runs / 5 runs with a state as large: {same:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres", default="", help="admin URL, e.g. postgres://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--redis", default="", help="e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("--trials", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
