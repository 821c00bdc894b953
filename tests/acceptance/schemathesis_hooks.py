"""Schemathesis hooks for tests/acceptance/test_schemathesis.py (loaded through
SCHEMATHESIS_HOOKS by the schemathesis process, not by pytest).

A run created with `after_seconds` waits that long before any worker starts
it (up to a week), and a wait or a stream for it keeps its connection alive
with a newline or heartbeat every few seconds meanwhile, so the client's read
timeout never fires: one generated `after_seconds` of days held the fuzzing
until its own timeout. Generated delays are cut to a second; how delays are
honoured is tested in tests/acceptance/sdk.
"""

import schemathesis

MAX_DELAY = 1


def _short(body):
    if isinstance(body, dict):
        delay = body.get("after_seconds")
        if isinstance(delay, int | float) and not isinstance(delay, bool) and delay > MAX_DELAY:
            body["after_seconds"] = MAX_DELAY
    elif isinstance(body, list):
        for item in body:  # POST /runs/batch
            _short(item)


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    _short(case.body)
