"""Run throughput with a zero-delay agent at 1, 10 and 50 concurrent threads.

Each thread runs its runs back to back (`runs.wait`); runs/s is the total
number of finished runs over the wall time. Also the servers' and workers'
CPU per run (user + system, all processes): the server is bound by its one
core at 50 threads, and this is steadier than runs/s on a shared machine.
Embedded mode by default;
`--postgres URL --redis URL` runs 2 Daphne processes and 2 workers.

    python bench/throughput.py [--runs-per-thread 10] [--postgres URL --redis URL]
"""

import argparse
import asyncio
import time

from _server import cpu_seconds, machine, percentile, servers

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
        from _server import ALL

        clients = [get_client(url=url) for url in urls]
        await one_thread(clients[0], 3, [])  # warm up
        mode = "postgres+redis, 2 daphne, 2 workers" if production else "embedded sqlite"
        print(f"# run throughput ({mode}); {machine()}")
        for concurrency in (1, 10, 50):
            latencies: list[float] = []
            cpu0 = sum(cpu_seconds(proc.pid) for _, proc in ALL)
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    one_thread(clients[i % len(clients)], args.runs_per_thread, latencies)
                    for i in range(concurrency)
                )
            )
            elapsed = time.perf_counter() - started
            cpu = sum(cpu_seconds(proc.pid) for _, proc in ALL) - cpu0
            total = concurrency * args.runs_per_thread
            print(
                f"{concurrency:>3} threads: {total / elapsed:7.1f} runs/s  "
                f"(run latency median {percentile(latencies, 50):.1f} ms, "
                f"p95 {percentile(latencies, 95):.1f} ms; "
                f"server CPU {cpu / total * 1000:.1f} ms/run)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs-per-thread", type=int, default=10)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--redis", default="")
    asyncio.run(main(parser.parse_args()))
