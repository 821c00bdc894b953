"""One module defines every message the processes exchange: no message type,
event kind or lifecycle status is spelled as a string anywhere else."""

import ast
from pathlib import Path

from runs.bus import protocol
from runs.models import RunStatus

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = ROOT / "runs" / "bus" / "protocol.py"
# The browser's websocket frames are their own protocol, defined in one module
# (runs/ws/frames.py); some of its frame names are the same words.
FRAMES = ROOT / "runs" / "ws" / "frames.py"

# Statuses that are also a run's stored status are spelled through RunStatus.
PROTOCOL_WORDS = (
    {m.value for m in protocol.MessageType}
    | {m.value for m in protocol.EventKind}
    | {m.value for m in protocol.Lifecycle if m.value not in RunStatus.values}
    | {protocol.WORKERS_GROUP}
)
# The same word meaning something else there.
UNRELATED = {("runs/admin.py", "created"): "UserAPIKey's `created` field"}


def string_constants(tree: ast.AST, skip_classes: frozenset[str] = frozenset()):
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in skip_classes:
            node.body = []  # its own enum definitions
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node


def test_only_the_protocol_module_spells_protocol_strings():
    assert PROTOCOL_WORDS >= {"run.cancel", "run.snapshot", "runs.wakeup", "rolled_back"}
    found = []
    for path in sorted([*ROOT.glob("runs/**/*.py"), *ROOT.glob("chatapp/**/*.py")]):
        if path == PROTOCOL or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        skip = frozenset({"FrameType", "ClientFrame"}) if path == FRAMES else frozenset()
        for node in string_constants(tree, skip):
            where = str(path.relative_to(ROOT))
            if node.value in PROTOCOL_WORDS and (where, node.value) not in UNRELATED:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not found, "protocol strings outside runs/bus/protocol.py:\n" + "\n".join(found)


def test_the_check_finds_a_bare_protocol_string():
    tree = ast.parse('message = {"type": "run.cancel"}')
    assert [n.value for n in string_constants(tree)] == ["type", "run.cancel"]


def test_constructors_build_what_handlers_dispatch_on():
    run = {"run_id": "r", "thread_id": "t"}
    event = protocol.lifecycle_event("t", run, "rolled_back")
    assert event["type"] == "run.event" and event["data"]["status"] == "rolled_back"
    assert protocol.lifecycle_status(event, "r") == protocol.Lifecycle.ROLLED_BACK
    assert protocol.lifecycle_status(event, "other") is None
    assert protocol.run_cancel("r", "rollback")["type"] == "run.cancel"
    assert protocol.wakeup()["thread_id"] == ""
