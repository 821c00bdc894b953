"""Django's ASGI handler with a request's sync work done in one thread hop.

Django's `ASGIHandler` runs the request in async mode: the `request_started`
signal, each sync middleware hook, the view, the rendering of a DRF response,
and `response.close()` (the `request_finished` signal) are each a
`sync_to_async` call, 10 hops to a thread and back per API request with our
middleware, each waiting for the event loop to pick its result up (which is
busy with the runs it executes, in embedded mode). And each request gets a new
thread (asgiref's `ThreadSensitiveContext`), so a new database connection.

`OneHopASGIHandler` loads the middleware in sync mode and runs, in one call on
one of a few long-lived request threads, what Django's WSGI handler would run:
`request_started`, the middleware chain, the view, rendering and, for a
response that is not streamed, `close()`. Only reading the body and sending
the response stay on the loop (a streamed body, an SSE stream, is iterated
there as before, raced against the client going away, then closed on a
request thread). The loop's side is kept small, because it is every
request's share of the loop the runs stream on: the hop is a plain
`run_in_executor` (not asgiref's `sync_to_async`), a body that came in one
message is not copied into a temporary file, and only a streamed response
gets the task that listens for the client going away. The threads keep their
database connection between requests where `CONN_MAX_AGE` allows it (SQLite;
on PostgreSQL the pool hands connections out instead), and Django's
`close_old_connections` still runs on `request_started`/`request_finished`.

It leans on `ASGIHandler.handle`'s structure (reading the body, racing the
response against `listen_for_disconnect`, `send_response`), on
`BaseHandler.get_response` being the sync request path, and on asgiref's
record of a sync thread's calling loop (chatapp.platform.asgiref_loop);
tests/unit/platform checks them.
"""

import asyncio
import contextvars
import io
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

from chatapp.platform.asgiref_loop import called_from


class OneHopASGIHandler(ASGIHandler):
    def __init__(self):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.threads = ThreadPoolExecutor(
            max_workers=settings.REQUEST_THREADS, thread_name_prefix="request"
        )

    async def in_thread(self, func, *args):
        """func(*args) on a request thread, in a copy of this task's context.

        Not asgiref's `sync_to_async`: its call (choosing an executor, a
        shield, wrapping the function, copying context variables back) was
        a third of the loop's side of a request. The thread is recorded as
        called from this loop (`called_from`), as asgiref would record it, so
        `async_to_sync` in a view still runs on this loop."""
        loop = asyncio.get_running_loop()
        run = contextvars.copy_context().run
        return await loop.run_in_executor(self.threads, run, called_from, loop, func, *args)

    async def read_body(self, receive):
        """The request body. One message with all of it (a GET, most API
        bodies) is in memory already: read from there rather than copied into
        a spooled temporary file; a body in parts is spooled as Django does."""
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            return io.BytesIO(message.get("body", b""))
        first = [message]

        async def receive_again():
            return first.pop() if first else await receive()

        return await super().read_body(receive_again)

    def respond(self, scope, body_file):
        """A request's sync part, in a request thread: from `request_started`
        to the response (closed already, unless it is streamed)."""
        # Here, not on the loop: the prefix is a `Local`, kept per thread.
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            # Its content is in memory: closing it now (request_finished)
            # cleans this thread's connections in the thread that used them.
            response.close()
        return response

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await self.in_thread(self.respond, scope, body_file)
            if response.streaming:
                await self.send_streamed(response, receive, send)
            else:
                # Done and closed: a client gone meanwhile has nothing left to
                # cancel (the server drops what is sent to it), so no task
                # listens for it, as Django's handler has for every request.
                await self.send_response(response, send)
        finally:
            body_file.close()

    async def send_streamed(self, response, receive, send):
        """Send a streamed body from the loop until it ends or the client
        goes away (which cancels it, as Django does); then close it."""

        async def send_all():
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while we sent

        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(send_all()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done():
                    try:
                        task.result()
                    except RequestAborted:
                        pass
                else:
                    task.cancel()
                    try:
                        await task
                    except asyncio.CancelledError:
                        pass
        finally:
            await self.in_thread(response.close)
