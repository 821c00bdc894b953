"""Who a client is: a user's API key, or the local demo user.

(Which threads a user sees: runs.services.actors.)

The local demo (settings.LOCAL_DEMO, only with DEBUG on): a request from
this machine without credentials acts as the shared user "local-demo", so
the embedded app works without an account.
"""

import ipaddress
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from runs.models import UserAPIKey

LOCAL_DEMO_USERNAME = "local-demo"
# djangorestframework-api-key's keys: an 8-character prefix, a dot, 32 characters.
API_KEY_FORMAT = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}")


def api_key_user(key: str):
    """The active user whose valid (not revoked, not expired) API key this is, or None."""
    if not API_KEY_FORMAT.fullmatch(key):
        return None
    try:
        api_key = UserAPIKey.objects.get_from_key(key)
    except UserAPIKey.DoesNotExist:
        return None
    if api_key.has_expired or not api_key.user.is_active:
        return None
    return api_key.user


def is_loopback(host: str | None) -> bool:
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def local_demo_user():
    """The shared user of the local demo (created on first use; it cannot log in)."""
    user, _ = get_user_model().objects.get_or_create(
        username=LOCAL_DEMO_USERNAME, defaults={"password": make_password(None)}
    )
    return user


def demo_user_for(host: str | None):
    """The local demo user for an unauthenticated client at `host`, or None
    when the demo is off or the client is not on this machine."""
    if settings.LOCAL_DEMO and is_loopback(host):
        return local_demo_user()
    return None
