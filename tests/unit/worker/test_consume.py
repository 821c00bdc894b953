"""How the executor reads a graph's parts (runs/worker/graph_run.py `_consume`):
a cancel stops the graph while it waits for its next part, within one token,
and never cuts a publish short."""

import asyncio

import pytest

from runs.worker import graph_run
from runs.worker.graph_run import ActiveRun, _consume
from runs.worker.saver import RunCancelled


class Graph:
    """A stream of parts; `waiting` is set while the consumer waits for one,
    `stopped` records how the stream ended."""

    def __init__(self, parts: int, pace: float = 0.0):
        self.parts, self.pace = parts, pace
        self.waiting = asyncio.Event()
        self.stopped = None

    async def stream(self):
        try:
            for i in range(self.parts):
                self.waiting.set()
                await asyncio.sleep(self.pace)
                self.waiting.clear()
                yield ("updates", {"step": i})
            self.stopped = "ended"
        except asyncio.CancelledError:
            self.stopped = "cancelled"
            raise


@pytest.fixture
def published(monkeypatch):
    parts = []

    async def publish(active, part):
        parts.append(part)

    monkeypatch.setattr(graph_run, "_publish", publish)
    return parts


async def test_a_stream_read_to_its_end(published):
    graph = Graph(parts=3)
    assert await _consume(ActiveRun(claim=None), graph.stream()) is True
    assert [part[1]["step"] for part in published] == [0, 1, 2]
    assert graph.stopped == "ended"


async def test_a_cancel_stops_the_graph_while_it_waits_for_a_part(published):
    graph = Graph(parts=3, pace=30)
    active = ActiveRun(claim=None)
    consuming = asyncio.ensure_future(_consume(active, graph.stream()))
    await graph.waiting.wait()
    active.cancel("interrupt")
    assert await asyncio.wait_for(consuming, 1) is False
    assert graph.stopped == "cancelled" and published == []


async def test_a_cancel_during_a_publish_lets_it_finish(monkeypatch):
    publishing, go_on, finished = asyncio.Event(), asyncio.Event(), []

    async def slow_publish(active, part):
        publishing.set()
        await go_on.wait()
        finished.append(part)

    monkeypatch.setattr(graph_run, "_publish", slow_publish)
    graph = Graph(parts=3)
    active = ActiveRun(claim=None)
    consuming = asyncio.ensure_future(_consume(active, graph.stream()))
    await publishing.wait()
    active.cancel("interrupt")
    go_on.set()
    assert await asyncio.wait_for(consuming, 1) is False
    assert len(finished) == 1  # published whole, and no part read after the cancel


async def test_a_write_refused_after_the_cancel_is_the_cancel(published):
    async def refusing():
        try:
            await asyncio.sleep(30)
            yield ("updates", {})
        except asyncio.CancelledError:
            raise RunCancelled("run") from None

    active = ActiveRun(claim=None)
    consuming = asyncio.ensure_future(_consume(active, refusing()))
    await asyncio.sleep(0.01)
    active.cancel("interrupt")
    assert await asyncio.wait_for(consuming, 1) is False


async def test_the_graph_s_errors_propagate(published):
    async def failing():
        yield ("updates", {})
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        await _consume(ActiveRun(claim=None), failing())
    assert len(published) == 1


async def test_cancelling_the_consumer_stops_the_graph(published):
    graph = Graph(parts=3, pace=30)
    consuming = asyncio.ensure_future(_consume(ActiveRun(claim=None), graph.stream()))
    await graph.waiting.wait()
    consuming.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consuming
    assert graph.stopped == "cancelled"
