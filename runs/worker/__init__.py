"""The worker: executes runs.

- `executor`: the asyncio executor (claims runs, drives their agents, streams,
  stops within one token when cancelled, hands a thread to its next run);
- `transactions`: its database side, one small transaction per function
  (claim, steps, finish, leases, recovery);
- `embedded`: the executor inside the server process (the default).

`manage.py runworker_runs` runs an executor as a process of its own.
"""
