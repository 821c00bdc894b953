"""Load one request path of Doubletext for profiling (py-spy): `BENCH_PYSPY=DIR`.

    BENCH_PYSPY=/tmp/prof python bench/profile_requests.py info|get|create [--n 300]

- info: `GET /info` back to back;
- get: `runs.get` of a finished run;
- create: `runs.create` with interrupt on a thread whose run is streaming
  (a new slow run is started between double-texts, so each create interrupts one).

Prints the median; the collapsed stacks are in DIR/daphne-0.txt (sum the samples
per frame, e.g. `python bench/profile_requests.py --top DIR/daphne-0.txt`).
"""

import argparse
import asyncio
import collections
import time

from _server import percentile, servers

SLOW = {"configurable": {"token_delay": 0.25, "reply_words": 12}}
ZERO = {"configurable": {"token_delay": 0, "reply_words": 12}}


def user(text):
    return {"messages": [{"role": "user", "content": text}]}


async def main(args):
    from langgraph_sdk import get_client

    with servers(
        postgres=args.postgres, redis=args.redis, workers=1 if args.postgres else 0
    ) as urls:
        client = get_client(url=urls[0])
        tid = (await client.threads.create())["thread_id"]
        run = await client.runs.create(tid, "agent", input=user("hi"), config=ZERO)
        await client.runs.join(tid, run["run_id"])
        times = []
        for i in range(args.n):
            if args.what == "info":
                started = time.perf_counter()
                await client.http.get("/info")
            elif args.what == "get":
                started = time.perf_counter()
                await client.runs.get(tid, run["run_id"])
            else:
                busy = await client.runs.create(tid, "agent", input=user(f"q{i}"), config=SLOW)
                while (await client.runs.get(tid, busy["run_id"]))["status"] != "running":
                    await asyncio.sleep(0.01)
                started = time.perf_counter()
                await client.runs.create(
                    tid, "agent", input=user("again"), config=SLOW, multitask_strategy="interrupt"
                )
            times.append((time.perf_counter() - started) * 1000)
        print(f"{args.what}: median {percentile(times, 50):.2f} ms over {args.n}")


def top(path: str, n: int = 40) -> None:
    """Samples per frame (inclusive), from py-spy's raw (collapsed) output."""
    inclusive: collections.Counter = collections.Counter()
    total = 0
    for line in open(path):
        stack, _, count = line.rstrip().rpartition(" ")
        total += int(count)
        for frame in set(stack.split(";")):
            inclusive[frame] += int(count)
    for frame, count in inclusive.most_common(n):
        print(f"{count / total:6.1%}  {frame[:150]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", nargs="?", choices=["info", "get", "create"])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--top", help="print the heaviest frames of a collapsed-stack file")
    parser.add_argument("--postgres", default="", help="production mode: admin URL (one worker)")
    parser.add_argument("--redis", default="", help="production mode: Redis URL")
    args = parser.parse_args()
    if args.top:
        top(args.top)
    else:
        asyncio.run(main(args))
