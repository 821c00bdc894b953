"""Settings when DEBUG is false: `check --deploy` is clean, the local demo is
off, and nobody gets in without credentials."""

import os
import secrets
import subprocess
import sys

import httpx
import pytest

from tests.live_server import ROOT, LiveServer

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "chat.example.com,127.0.0.1",
}


def manage(*args, env=None):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_secret_key_is_required():
    result = manage("check", env={**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_the_local_demo_is_off_without_debug():
    code = "from django.conf import settings; print(settings.LOCAL_DEMO)"
    result = manage("shell", "-c", code, env={**PRODUCTION, "LOCAL_DEMO": "true"})
    assert result.stdout.split()[-1] == "False", result.stderr


@pytest.mark.django_db(transaction=True)
def test_without_debug_nobody_gets_in_anonymously():
    server = LiveServer(env={**PRODUCTION, "SECURE_SSL_REDIRECT": "false"})
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.post("/threads/search", json={}).status_code == 401
            chat = client.get("/")
            assert chat.status_code == 302 and chat.headers["location"].startswith(
                "/accounts/login/"
            )
            login = client.get("/accounts/login/")
            assert login.status_code == 200 and "Sign in" in login.text
            assert login.headers["x-frame-options"] == "DENY"
    finally:
        server.stop()


def database_options(value: str | None) -> str:
    env = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres"}
    if value is not None:
        env["DATABASE_PREPARE_THRESHOLD"] = value
    code = (
        "from django.conf import settings; o = settings.DATABASES['default']['OPTIONS']; "
        "print(o.get('server_side_binding'), o.get('prepare_threshold'))"
    )
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")[-2]


def test_postgresql_statements_are_prepared_unless_turned_off():
    assert database_options(None) == "True 5"
    assert database_options("2") == "True 2"
    assert database_options("off") == "None None"
    result = manage(
        "check",
        env={
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "DATABASE_PREPARE_THRESHOLD": "soon",
        },
    )
    assert result.returncode != 0 and "DATABASE_PREPARE_THRESHOLD" in result.stderr


def test_a_worker_runs_on_uvloop_unless_told_asyncio(settings, monkeypatch):
    """runworker_runs builds its event loop from RUNS_WORKER_EVENT_LOOP."""
    import asyncio

    import uvloop

    from runs.management.commands import runworker_runs

    seen = []

    async def main(self, worker_id, concurrency):
        seen.append(type(asyncio.get_running_loop()))

    monkeypatch.setattr(runworker_runs.Command, "_main", main)
    monkeypatch.setattr(runworker_runs.registry(), "preload", lambda: None)
    monkeypatch.setattr(runworker_runs, "freeze_startup_objects", lambda: 0)
    runworker_runs.Command().handle(worker_id=None, concurrency=1)
    settings.RUNS_WORKER_EVENT_LOOP = "asyncio"
    runworker_runs.Command().handle(worker_id=None, concurrency=1)
    assert seen[0] is uvloop.Loop
    assert seen[1] is not uvloop.Loop and issubclass(seen[1], asyncio.BaseEventLoop)


def test_a_worker_freezes_what_it_imported_before_it_runs(monkeypatch):
    """runworker_runs loads its graphs, then freezes what it made while
    starting (chatapp/startup_gc.py), then runs its loop."""
    from runs.management.commands import runworker_runs

    steps = []

    async def main(self, worker_id, concurrency):
        steps.append("run")

    monkeypatch.setattr(runworker_runs.Command, "_main", main)
    monkeypatch.setattr(runworker_runs.registry(), "preload", lambda: steps.append("graphs"))
    monkeypatch.setattr(runworker_runs, "freeze_startup_objects", lambda: steps.append("freeze"))
    runworker_runs.Command().handle(worker_id=None, concurrency=1)
    assert steps == ["graphs", "freeze", "run"]


def test_an_unknown_worker_event_loop_is_refused():
    result = manage("check", env={"RUNS_WORKER_EVENT_LOOP": "trio"})
    assert result.returncode != 0 and "RUNS_WORKER_EVENT_LOOP" in result.stderr
