"""Keep the garbage collector off the objects a process made while starting.

A server or worker starts by importing Django, DRF, LangChain, LangGraph and
the graphs of langgraph.json: ~210,000 objects (modules, classes, functions,
their dicts) that live as long as the process. CPython's full collection
(generation 2) walks every tracked object, and it runs whenever the objects
that survived into that generation since the last one reach a quarter of
those it holds. The embedded server running `bench/throughput.py` (610 runs)
made four full collections of 130-175 ms while it served, each a pause of the
event loop every run streams on, and the collector was ~15% of its CPU
(bench/README.md, fourteenth round); a worker streaming 200 chats paused as
long.

`gc.freeze()` moves every object tracked so far to the permanent generation,
which collections skip: a full collection then walks only what the process
made since it started. Collected first, so that startup's own garbage is freed
rather than frozen (a frozen cycle is never freed): one full collection more at
start, ~0.1 s.
"""

import gc


def freeze_startup_objects() -> int:
    """Collect, then freeze what is left; returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
