"""Graphs are imported when a server or worker starts, not by the first run."""

import logging
import subprocess
import sys

from runs.graphs.config import GraphSpec
from runs.graphs.registry import Registry
from tests.live_server import ROOT


def test_preload_imports_every_graph_and_logs_a_broken_one(caplog):
    registry = Registry(
        {
            "agent": GraphSpec("agent", "runs.graphs.demo", "graph"),
            "broken": GraphSpec("broken", "runs.graphs.no_such_module", "graph"),
        }
    )
    with caplog.at_level(logging.ERROR, logger="runs.graphs.registry"):
        registry.preload()
    assert "agent" in registry._sources and "broken" not in registry._sources
    assert "graph 'broken': cannot import runs.graphs.no_such_module" in caplog.text


def test_the_asgi_application_has_the_graphs_imported():
    """The first run's validation would otherwise import LangChain and the graph."""
    code = (
        "import sys, chatapp.asgi; "
        "from runs.graphs.registry import registry; "
        "assert set(registry()._sources) == set(registry().ids()), registry()._sources; "
        "assert 'runs.graphs.demo' in sys.modules"
    )
    env = {"DJANGO_SETTINGS_MODULE": "chatapp.settings", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
