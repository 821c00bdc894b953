"""A server or worker freezes what it made while starting (chatapp/startup_gc.py),
so that the garbage collector's full collections walk only what it made since."""

import gc
import os
import subprocess
import sys
import weakref

import pytest

from chatapp.startup_gc import freeze_startup_objects
from tests.live_server import ROOT


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


class Node:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it


def test_startup_garbage_is_freed_and_what_is_left_frozen(unfrozen):
    kept, dropped = Node(), Node()
    gone = weakref.ref(dropped)
    del dropped
    frozen = freeze_startup_objects()
    assert gone() is None  # collected first, not frozen forever
    assert frozen == gc.get_freeze_count() > 0
    assert not any(o is kept for g in range(3) for o in gc.get_objects(generation=g))


def test_the_server_application_freezes_what_it_imported():
    """Importing chatapp.asgi (Daphne's and uvicorn's application) ends with the
    freeze: Django, DRF, LangGraph and the graphs of langgraph.json."""
    result = subprocess.run(
        [sys.executable, "-c", "import gc, chatapp.asgi; print(gc.get_freeze_count())"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "chatapp.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # ~210,000 here; tens of thousands means more than a few modules were frozen.
    assert int(result.stdout.split()[-1]) > 50_000
