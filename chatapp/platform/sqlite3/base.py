"""SQLite, with the process's write transactions queued on a lock.

SQLite has one writer at a time. When a second connection begins a write
transaction (BEGIN IMMEDIATE) while another holds the lock, SQLite's busy
handler makes it sleep and retry: 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50,
100 ms... In the embedded server every request runs in a thread of its own
with its own connection, so a burst of requests (200 chats creating their
threads at once) spent most of its time asleep in that handler, in py-spy
profiles 52% of the server's samples, and websocket handshakes timed out.

Here a process-wide lock is taken before BEGIN and released at COMMIT or
ROLLBACK (or when the connection closes): the writers of one process wait on
it in turn and are woken as soon as it is free. Writers in other processes
(a test process beside a live server) still meet SQLite's busy timeout.
Reads outside transactions are not affected (WAL lets them run alongside).

Its cursors also keep the "%s" to "?" conversion of each statement Django
makes on every execute (a regular-expression substitution over the whole
statement: 3% of the embedded server's GIL time under load, for statements
that are mostly the same few dozen).
"""

import functools
import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_write_lock = threading.Lock()


@functools.lru_cache(maxsize=1024)
def _qmark(query: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class CursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query, *, param_names=None):
        if param_names is None:
            return _qmark(query)
        return base.SQLiteCursorWrapper.convert_query(self, query, param_names=param_names)


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_lock = False

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=CursorWrapper)

    def _start_transaction_under_autocommit(self):
        timeout = self.settings_dict["OPTIONS"].get("timeout", 5)
        if not _write_lock.acquire(timeout=timeout):
            raise OperationalError("database is locked (waited for this process's writers)")
        self._holds_write_lock = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_write_lock()
            raise

    def _release_write_lock(self):
        if self._holds_write_lock:
            self._holds_write_lock = False
            _write_lock.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_write_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_write_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_write_lock()
