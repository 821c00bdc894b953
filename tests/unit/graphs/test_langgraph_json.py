"""langgraph.json, what LangGraph's CLI reads, names the built-in graphs."""

import importlib
import json
from pathlib import Path

from langgraph.graph.state import CompiledStateGraph

from runs.graphs import demo

ROOT = Path(__file__).resolve().parents[3]


def test_langgraph_json_lists_the_demo_graphs():
    spec = json.loads((ROOT / "langgraph.json").read_text())
    assert spec["dependencies"] == ["."]
    found = {}
    for graph_id, target in spec["graphs"].items():
        path, attribute = target.split(":")
        assert (ROOT / path).is_file(), path
        module = importlib.import_module(
            path.removeprefix("./").removesuffix(".py").replace("/", ".")
        )
        found[graph_id] = getattr(module, attribute)
    assert found == {"agent": demo.graph, "hitl": demo.hitl}
    assert all(isinstance(graph, CompiledStateGraph) for graph in found.values())
