"""Run throughput with a zero-delay agent at 1, 10 and 50 concurrent threads.

Each thread runs its runs back to back (`runs.wait`); runs/s is the total
number of finished runs over the wall time. Embedded mode by default;
`--postgres URL --redis URL` runs 2 Daphne processes and 2 workers.

    python bench/throughput.py [--runs-per-thread 10] [--postgres URL --redis URL]
"""

import argparse
import asyncio
import time

from _server import machine, percentile, servers

ZERO = {"configurable": {"token_delay": 0, "reply_words": 5}}


async def one_thread(client, runs: int, latencies: list[float]) -> None:
    tid = (await client.threads.create())["thread_id"]
    for i in range(runs):
        started = time.perf_counter()
        await client.runs.wait(
            tid, "agent", input={"messages": [{"role": "user", "content": f"q{i}"}]}, config=ZERO
        )
        latencies.append((time.perf_counter() - started) * 1000)


async def main(args):
    from langgraph_sdk import get_client

    production = bool(args.postgres)
    with servers(
        postgres=args.postgres,
        redis=args.redis,
        daphnes=2 if production else 1,
        workers=2 if production else 0,
    ) as urls:
        clients = [get_client(url=url) for url in urls]
        await one_thread(clients[0], 3, [])  # warm up
        mode = "postgres+redis, 2 daphne, 2 workers" if production else "embedded sqlite"
        print(f"# run throughput ({mode}); {machine()}")
        for concurrency in (1, 10, 50):
            latencies: list[float] = []
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    one_thread(clients[i % len(clients)], args.runs_per_thread, latencies)
                    for i in range(concurrency)
                )
            )
            elapsed = time.perf_counter() - started
            total = concurrency * args.runs_per_thread
            print(
                f"{concurrency:>3} threads: {total / elapsed:7.1f} runs/s  "
                f"(run latency median {percentile(latencies, 50):.1f} ms, "
                f"p95 {percentile(latencies, 95):.1f} ms)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs-per-thread", type=int, default=10)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--redis", default="")
    asyncio.run(main(parser.parse_args()))
