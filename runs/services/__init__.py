"""The runs service: every rule about threads, runs and their state.

The REST API, the websocket, the admin and the worker call these functions
and nothing below them. Each function that reads or changes a thread takes
the acting user as the required keyword `actor` (`actors.SYSTEM` for the
admin and the worker), so a caller cannot forget the ownership check.

- `threads`: create, read, search, update, delete threads; the thread lock;
- `runs`: create runs with a double-texting strategy (`apply_strategy`, the
  one function that decides one), cancel, read, delete runs;
- `cancellation`: what cancelling does to in-flight runs (shared by both);
- `crons`: runs on a schedule, and firing each tick once across workers;
- `state`: a thread's state and history, manual updates;
- `assistants`: the graphs' default assistants and the users' own, their
  versions; `resolve`, what a run of an assistant runs with;
- `checkpoints`: writing and finding checkpoints;
- `actors`, `accounts`: who acts, which threads they see, API keys and the
  local demo;
- `chat_messages`, `payloads`: validation of what clients send;
- `representation`: the JSON shapes of threads, runs and states;
- `paging`: a search's page and its `select` (threads, assistants, crons);
- `rate_limit`: run creation per user;
- `errors`: the errors all of the above raise.
"""
