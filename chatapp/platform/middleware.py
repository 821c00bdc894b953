"""Django's middleware, with the hooks that do no I/O run on the event loop.

Under ASGI, Django runs each middleware's `process_request` and
`process_response` through `sync_to_async(thread_sensitive=True)`: a hop to
the process's one sync thread and back, twice per middleware and request,
queued behind whatever sync view that thread is running. The hooks of the
middleware below only read and write headers, cookies and lazy objects, so in
async mode they are called directly; what would reach the database (saving a
session, messages stored in it) still runs in the sync thread. In sync mode
(the test client) nothing changes.

Django's security, CSRF and clickjacking middleware stay as they are:
`check --deploy` finds them by their dotted paths, and skips the checks of
their settings (HSTS, secure cookies...) when they are missing.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import common
from whitenoise import middleware as whitenoise


class InlineHooks:
    """For a `MiddlewareMixin` subclass whose hooks do no blocking I/O."""

    def request_needs_thread(self, request) -> bool:
        return False

    def response_needs_thread(self, request) -> bool:
        return False

    async def __acall__(self, request):
        if self.request_needs_thread(request):
            return await super().__acall__(request)
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request):
                process = sync_to_async(self.process_response, thread_sensitive=True)
                response = await process(request, response)
            else:
                response = self.process_response(request, response)
        return response


class SessionMiddleware(InlineHooks, sessions.SessionMiddleware):
    def response_needs_thread(self, request) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class CommonMiddleware(InlineHooks, common.CommonMiddleware):
    pass


class AuthenticationMiddleware(InlineHooks, auth.AuthenticationMiddleware):
    pass  # request.user is lazy: it is loaded in the view's thread


class MessageMiddleware(InlineHooks, messages.MessageMiddleware):
    def response_needs_thread(self, request) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class WhiteNoiseMiddleware(whitenoise.WhiteNoiseMiddleware):
    """WhiteNoise 6 is sync-only: under ASGI Django adapts every request
    through it (sync_to_async in, async_to_sync back out). Finding a static
    file is a dict lookup (without autorefresh); only serving one goes to a
    thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, settings=settings):
        super().__init__(get_response, settings)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)
