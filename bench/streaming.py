"""Streaming: many concurrent websocket chats, token delivery latency and server CPU.

Each chat opens /ws/threads/<id>/ and sends one message; the demo agent streams
`--words` tokens `--delay` seconds apart. Latency is the time from the executor
publishing a token (its `ts`) to the browser-side socket receiving it (same
machine clock). Server CPU is each process's user+system time over the wall
time of the streaming phase. Production mode (`--postgres --redis`) runs 2
Daphne processes (the chats alternate between them) and 2 workers.

    python bench/streaming.py [--chats 200] [--words 40] [--delay 0.05]
"""

import argparse
import asyncio
import json
import time

from _server import WS_HEADERS, cpu_seconds, machine, percentile, servers


async def chat(base_url: str, config: dict, latencies: list[float], ready: asyncio.Barrier):
    import websockets
    from langgraph_sdk import get_client

    try:
        tid = (await get_client(url=base_url).threads.create())["thread_id"]
        ws_url = base_url.replace("http", "ws") + f"/ws/threads/{tid}/"
        ws = await websockets.connect(
            ws_url, origin=base_url, max_queue=None, additional_headers=WS_HEADERS
        )
        await ws.recv()  # state
    except BaseException:
        await ready.abort()  # fail the benchmark rather than wait for this chat forever
        raise
    async with ws:
        await ready.wait()
        await ws.send(json.dumps({"type": "message", "content": "hello", "config": config}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if frame["type"] == "token" and frame.get("ts"):
                latencies.append((time.time() - frame["ts"]) * 1000)
            elif frame["type"] == "run" and frame["event"] in ("success", "error"):
                return frame["event"]


async def main(args):
    config = {"configurable": {"token_delay": args.delay, "reply_words": args.words}}
    production = bool(args.postgres)
    with servers(
        postgres=args.postgres,
        redis=args.redis,
        daphnes=2 if production else 1,
        workers=2 if production else 0,
    ) as urls:
        from _server import ALL

        latencies: list[float] = []
        ready = asyncio.Barrier(args.chats + 1)
        tasks = [
            asyncio.create_task(chat(urls[i % len(urls)], config, latencies, ready))
            for i in range(args.chats)
        ]
        await ready.wait()
        procs = list(ALL)
        cpu0, wall0 = [cpu_seconds(p.pid) for _, p in procs], time.monotonic()
        results = await asyncio.gather(*tasks)
        cpu = [cpu_seconds(p.pid) - c for (_, p), c in zip(procs, cpu0, strict=True)]
        wall = time.monotonic() - wall0
    mode = "postgres+redis, 2 daphne, 2 workers" if production else "embedded sqlite"
    print(
        f"# streaming, {args.chats} concurrent websocket chats x {args.words} tokens "
        f"every {args.delay}s ({mode}); {machine()}"
    )
    print(f"runs ok: {results.count('success')}/{len(results)}, tokens received: {len(latencies)}")
    print(
        f"token delivery latency: p50={percentile(latencies, 50):.1f} ms "
        f"p99={percentile(latencies, 99):.1f} ms"
    )
    for (name, _), seconds in zip(procs, cpu, strict=True):
        print(
            f"{name} CPU: {seconds:.2f} s over {wall:.2f} s wall "
            f"= {100 * seconds / wall:.0f}% of one core"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--words", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--redis", default="")
    asyncio.run(main(parser.parse_args()))
