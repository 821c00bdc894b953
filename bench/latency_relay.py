"""A TCP relay that delays what it forwards, each way: a database some
distance away, on one machine. Loopback PostgreSQL answers `SELECT 1` in
~0.07 ms; across a network a round trip is 0.2-1 ms, and a transaction's
statements each pay it. Run it in front of PostgreSQL and point a bench
script at it:

    python latency_relay.py 15432 5432 0.25 &     # 0.25 ms each way
    python compare.py --postgres postgres://postgres@127.0.0.1:15432/postgres --redis ...

Two threads a direction (one reads, one sends each chunk once its time has
come: `time.sleep` is precise to tens of microseconds, an event loop's
timers to a millisecond), so order is kept and a slow reader does not hold
the other direction up.
"""

import argparse
import queue
import socket
import threading
import time


def pump(src: socket.socket, dst: socket.socket, delay: float) -> None:
    chunks: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            chunks.put((time.perf_counter() + delay, data))
            if not data:
                return

    def send() -> None:
        while True:
            due, data = chunks.get()
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            try:
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
            except OSError:
                return

    threading.Thread(target=read, daemon=True).start()
    threading.Thread(target=send, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listen", type=int, help="port to listen on (127.0.0.1)")
    parser.add_argument("target", type=int, help="port to forward to (127.0.0.1)")
    parser.add_argument("delay_ms", type=float, help="delay each way, in milliseconds")
    args = parser.parse_args()
    server = socket.create_server(("127.0.0.1", args.listen))
    while True:
        client, _ = server.accept()
        upstream = socket.create_connection(("127.0.0.1", args.target))
        for end in (client, upstream):
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pump(client, upstream, args.delay_ms / 1000)
        pump(upstream, client, args.delay_ms / 1000)


if __name__ == "__main__":
    main()
