"""A real ASGI server (Daphne, or uvicorn) in a subprocess on 127.0.0.1, on the test database.

Use the `live_server_url` fixture (from tests/conftest.py). The server runs
the embedded executor unless `RUNS_EMBEDDED_WORKER=false` is passed in `env`.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database pytest-django created, for other processes."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or ""
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{s['NAME']}"


def server_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "chatapp.settings",
            "DATABASE_URL": test_database_url(),
            "DEBUG": "true",
            "PYTHONUNBUFFERED": "1",
            # Tests create runs faster than a person: no rate limit unless a
            # test sets one (with a cache prefix of its own, as Redis is shared).
            "RUNS_CREATE_RATE": "none",
            "CACHE_KEY_PREFIX": f"test-{os.getpid()}",
        }
    )
    env.update(extra or {})
    return env


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start in {timeout}s")


class ManagedProcess:
    """A subprocess of the project (cwd = repository root) logging to a file."""

    def __init__(self, args: list[str], name: str, env: dict | None = None):
        self.log_path = ROOT / "test-artifacts" / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=server_env(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# How each supported ASGI server serves the project on a port.
SERVERS = {
    "daphne": lambda port: ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port)],
    "uvicorn": lambda port: ["-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)],
}


class LiveServer(ManagedProcess):
    """A Daphne (or `server="uvicorn"`) process; `url` is its base URL."""

    def __init__(self, env: dict | None = None, server: str = "daphne"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [*SERVERS[server](self.port), "chatapp.asgi:application"]
        super().__init__(args, f"{server}-{self.port}", env)
        try:
            wait_for_port(self.port, self.proc)
        except Exception:
            self.stop()
            raise


class Worker(ManagedProcess):
    """A `manage.py runworker_runs` process named `worker_id`."""

    def __init__(self, worker_id: str, env: dict | None = None):
        self.worker_id = worker_id
        args = ["manage.py", "runworker_runs", "--worker-id", worker_id]
        super().__init__(args, f"worker-{worker_id}-{os.getpid()}", env)
        deadline = time.monotonic() + 20
        while b"ready" not in self.log_path.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"worker {worker_id} did not start: see {self.log_path}")
            time.sleep(0.05)
