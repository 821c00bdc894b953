"""Double-text reaction latency over REST (langgraph-sdk) and the websocket.

For each trial: a first run streams a slow answer; once it is streaming, a
second message is sent with `interrupt` or `rollback`. Measured:
- create: the second request until its answer starts (SSE `metadata` event),
  i.e. the server's double-text overhead plus a loopback round trip;
- stopped: the second run's creation until the first run had stopped (server
  timestamps; a rolled-back run is deleted inside the create transaction);
- first token: the second request until its first streamed token;
- floor: a trivial request (GET /info) through the same client, i.e. what
  loopback, Daphne, Django and the client cost with no work at all; `create`
  minus the floor is the double-text's own server overhead.

    python bench/double_text.py [--trials 30] [--postgres URL --redis URL]
"""

import argparse
import asyncio
import json
import time
from datetime import datetime

from _server import WS_HEADERS, machine, servers, summary

SLOW = {"configurable": {"token_delay": 0.05, "reply_words": 400}}
FAST = {"configurable": {"token_delay": 0.0, "reply_words": 5}}


def user(text):
    return {"messages": [{"role": "user", "content": text}]}


async def wait_streaming(client, tid, run_id):
    async for part in client.runs.join_stream(tid, run_id, stream_mode="messages-tuple"):
        if part.event.startswith("messages"):
            return


async def trial_rest(client, strategy: str) -> dict:
    tid = (await client.threads.create())["thread_id"]
    first = await client.runs.create(tid, "agent", input=user("tell me a story"), config=SLOW)
    await wait_streaming(client, tid, first["run_id"])
    started = time.perf_counter()
    created = token = None
    second_id = None
    async for part in client.runs.stream(
        tid,
        "agent",
        input=user("hello again"),
        config=FAST,
        multitask_strategy=strategy,
        stream_mode="messages-tuple",
    ):
        if part.event == "metadata":
            created = time.perf_counter()
            second_id = part.data["run_id"]
        elif part.event.startswith("messages") and token is None:
            token = time.perf_counter()
    if token is None:  # a bug, not a slow server (an SSE race did this once)
        raise SystemExit(f"{strategy}: run {second_id} ended without streaming a token")
    second = await client.runs.get(tid, second_id)
    if strategy == "rollback":
        stopped_ms = 0.0  # deleted in the same transaction that created the second run
    else:
        done = await client.runs.get(tid, first["run_id"])
        stopped_ms = max(
            (
                datetime.fromisoformat(done["ended_at"])
                - datetime.fromisoformat(second["created_at"])
            ).total_seconds()
            * 1000,
            0.0,
        )
    return {
        "create": (created - started) * 1000,
        "stopped": stopped_ms,
        "token": (token - started) * 1000,
    }


async def trial_ws(base_url: str, strategy: str) -> dict:
    import websockets
    from langgraph_sdk import get_client

    tid = (await get_client(url=base_url).threads.create())["thread_id"]
    ws_url = base_url.replace("http", "ws") + f"/ws/threads/{tid}/"
    async with websockets.connect(ws_url, origin=base_url, additional_headers=WS_HEADERS) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "message",
                    "content": "tell me a story",
                    "strategy": "enqueue",
                    "config": SLOW,
                }
            )
        )
        while True:  # until the first run streams
            frame = json.loads(await ws.recv())
            if frame["type"] == "token":
                first_run = frame["run_id"]
                break
        started = time.perf_counter()
        await ws.send(
            json.dumps(
                {"type": "message", "content": "hello again", "strategy": strategy, "config": FAST}
            )
        )
        stopped = token = None
        while token is None or stopped is None:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if (
                frame["type"] == "run"
                and frame["run"]["run_id"] == first_run
                and frame["event"] in ("interrupted", "rolled_back")
            ):
                stopped = stopped or time.perf_counter()
            elif frame["type"] == "token" and frame["run_id"] != first_run:
                token = token or time.perf_counter()
    return {"stopped": (stopped - started) * 1000, "token": (token - started) * 1000}


async def main(args):
    from langgraph_sdk import get_client

    workers = 2 if args.postgres else 0
    with servers(postgres=args.postgres, redis=args.redis, workers=workers) as urls:
        client = get_client(url=urls[0])
        await trial_rest(client, "interrupt")  # warm up
        mode = "postgres+redis, 2 workers" if args.postgres else "embedded sqlite"
        print(f"# double-text reaction ({mode}); {machine()}")
        floor = []
        for _ in range(100):
            started = time.perf_counter()
            await client.http.get("/info")
            floor.append((time.perf_counter() - started) * 1000)
        print(summary("floor: GET /info           ", floor))
        for strategy in ("interrupt", "rollback"):
            rows = [await trial_rest(client, strategy) for _ in range(args.trials)]
            for key in ("create", "stopped", "token"):
                print(summary(f"REST {strategy:9} {key:11}", [r[key] for r in rows]))
        if not args.no_ws:
            for strategy in ("interrupt", "rollback"):
                rows = [await trial_ws(urls[0], strategy) for _ in range(args.trials)]
                for key in ("stopped", "token"):
                    print(summary(f"WS   {strategy:9} {key:11}", [r[key] for r in rows]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--redis", default="")
    parser.add_argument("--no-ws", action="store_true", help="skip the websocket trials")
    asyncio.run(main(parser.parse_args()))
