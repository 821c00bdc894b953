"""Every patch of a third-party internal, one module each.

Each module here leans on something its library does not promise to keep
(a private attribute, a method called by name, a call path), and says which
and why it is worth it. Each has a test in tests/unit/platform/ that fails
when the hook it relies on is gone or changes shape, so an upgrade that breaks
a patch is caught by CI instead of silently undoing it.

- `asgiref_loop`: the event loop asgiref recorded for a sync thread
  (`SyncToAsync.threadlocal`), to queue messages to it without waiting; and
  the same record written for the request threads, which asgiref does not
  start.
- `channels_dispatch`: a consumer dispatch that skips Channels'
  `aclose_old_connections()` hop for channel-layer events.
- `inmemory_layer`: Channels' in-memory layer without its walk over every
  channel per message.
- `sqlite3`: Django's SQLite backend with the process's writers queued on a
  lock instead of SQLite's sleeping busy handler.
- `asgi_handler`: Django's ASGI handler running a request's signals,
  middleware, view and rendering in one hop to a long-lived request thread.
- `db_threads`: database calls from async code on threads that keep their
  connection, checked like `close_old_connections` would.
- `psycopg_begin`: a pipelined transaction's BEGIN sent with its first
  statements, without the round trip psycopg spends on it alone.
"""
