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
there as before, then closed on a request thread). The threads keep their
database connection between requests where `CONN_MAX_AGE` allows it (SQLite;
on PostgreSQL the pool hands connections out instead), and Django's
`close_old_connections` still runs on `request_started`/`request_finished`.

It leans on `ASGIHandler.handle`'s structure (reading the body, racing the
response against `listen_for_disconnect`, `send_response`) and on
`BaseHandler.get_response` being the sync request path; tests/unit/platform
checks both.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix


class OneHopASGIHandler(ASGIHandler):
    def __init__(self):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.threads = ThreadPoolExecutor(
            max_workers=settings.REQUEST_THREADS, thread_name_prefix="request"
        )
        # Made once: building a SyncToAsync (its inspection of the function)
        # was 2% of the server's GIL time under load, once per request.
        self.respond_in_thread = self.in_thread(self.respond)

    def in_thread(self, func):
        return sync_to_async(func, thread_sensitive=False, executor=self.threads)

    def respond(self, scope, body_file):
        """A request's sync part, in a request thread: from `request_started`
        to the response (closed already, unless it is streamed)."""
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
        set_script_prefix(get_script_prefix(scope))
        response = None

        async def process_request():
            nonlocal response
            response = await self.respond_in_thread(scope, body_file)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while we sent

        # As Django does: the client going away cancels the response.
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request()),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        if response is not None and response.streaming:
            await self.in_thread(response.close)()
        body_file.close()
