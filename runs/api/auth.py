"""How REST clients authenticate (settings.REST_FRAMEWORK lists them in order):

- `x-api-key: <key>`: a user's API key (runs.models.UserAPIKey), what
  langgraph-sdk sends (`get_client(api_key=...)` or LANGGRAPH_API_KEY);
- `Authorization: Token <key>`: a DRF token (rest_framework.authtoken);
- the browser's session (DRF's SessionAuthentication, CSRF checked);
- the local demo, last: no credentials, from this machine, DEBUG on.

A request that presents credentials and fails them is refused (401); it does
not fall through to the local demo.
"""

import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework_api_key.permissions import KeyParser

from runs.services import accounts as access

TOKEN_FORMAT = re.compile(r"[0-9a-f]{40}")


class APIKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"
    key_parser = KeyParser()

    def authenticate(self, request):
        key = self.key_parser.get(request)
        if key is None:
            return None
        user = access.api_key_user(key)
        if user is None:
            raise exceptions.AuthenticationFailed(
                _("Invalid, revoked or expired API key (x-api-key).")
            )
        return user, key

    def authenticate_header(self, request):
        return self.keyword


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, refusing malformed tokens before any query."""

    def authenticate_credentials(self, key):
        if not TOKEN_FORMAT.fullmatch(key):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return super().authenticate_credentials(key)


class LocalDemoAuthentication(authentication.SessionAuthentication):
    """The local demo user, for a client on this machine that sent no
    credentials, when settings.LOCAL_DEMO is on (never with DEBUG off).

    A browser request (it carries an Origin header) must pass the CSRF check,
    so that another site open in the same browser cannot act as the demo user,
    unless its origin is one the settings allow (CORS_ALLOWED_ORIGINS: in the
    local demo, the dev servers of browser apps on this machine, such as
    agent-chat-ui, which cannot send a CSRF token).
    """

    def authenticate(self, request):
        user = access.demo_user_for(request.META.get("REMOTE_ADDR"))
        if user is None:
            return None
        origin = request.META.get("HTTP_ORIGIN")
        if origin and origin not in settings.CORS_ALLOWED_ORIGINS:
            self.enforce_csrf(request)
        return user, None
