"""LangGraph's JavaScript client (@langchain/langgraph-sdk, what agent-chat-ui and
React's useStream are built on) against a real server.

The tests are the `js/*.test.mjs` files, run with Node's own test runner, one
pytest test per file, with `DOUBLETEXT_URL` pointing at a live Daphne server.
They need Node 20+ and the pinned SDK (`npm ci --prefix tests/acceptance/sdk/js`,
which `.ci/run` does): without them they skip locally and fail under CI.
"""

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent / "js"
TEST_FILES = sorted(path.name for path in JS.glob("*.test.mjs"))
MIN_NODE = 20
TIMEOUT = 300  # seconds for one file; each JS test has its own, shorter timeout
# The JS client sends the first of these it finds as `x-api-key`; the server
# refuses a key that is not one of its own (401). These tests use the local
# demo mode (no credentials from 127.0.0.1), so the child gets none of them.
API_KEY_VARIABLES = ("LANGGRAPH_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def node() -> str:
    """Node's path; skips (fails under CI) without Node 20+ or the installed SDK."""
    node = shutil.which("node")
    if node is None:
        unavailable(f"node is not installed (Node {MIN_NODE}+ is needed)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major.group(1)) < MIN_NODE:
        unavailable(f"node {version.strip()} is too old (Node {MIN_NODE}+ is needed)")
    if not (JS / "node_modules" / "@langchain" / "langgraph-sdk").is_dir():
        unavailable("the JS SDK is not installed: npm ci --prefix tests/acceptance/sdk/js")
    return node


def test_the_js_tests_are_found():
    assert TEST_FILES, f"no *.test.mjs in {JS}"


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_js_sdk(test_file, node, live_server_url):
    env = {k: v for k, v in os.environ.items() if k not in API_KEY_VARIABLES}
    env["DOUBLETEXT_URL"] = live_server_url
    command = [node, "--test", "--test-reporter=spec", test_file]
    # A session of its own, so that a timeout ends node's test subprocesses too.
    proc = subprocess.Popen(
        command,
        cwd=JS,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(
            f"node --test {test_file} did not finish in {TIMEOUT} s:\n{output}", pytrace=False
        )
    if proc.returncode != 0:
        pytest.fail(
            f"node --test {test_file} exited with {proc.returncode}:\n{output}", pytrace=False
        )
    print(output)  # shown with -s or -rP: the JS tests and their times
