"""Who a client is: a user's API key, or the local demo user.

(Which threads a user sees: runs.services.actors.)

The local demo (settings.LOCAL_DEMO, only with DEBUG on): a request from
this machine without credentials acts as the shared user "local-demo", so
the embedded app works without an account.
"""

import copy
import ipaddress
import re
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from runs.models import UserAPIKey

LOCAL_DEMO_USERNAME = "local-demo"
# djangorestframework-api-key's keys: an 8-character prefix, a dot, 32 characters.
API_KEY_FORMAT = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}")


# Keys verified lately, for API_KEY_CACHE_SECONDS: verifying one is a query
# and a hash on every request, the largest part of an authenticated request's
# own work. Saving or deleting any API key or user empties it (in this
# process: another process notices a revocation within those seconds).
_verified: dict[str, tuple[float, object]] = {}
_verified_lock = threading.Lock()
VERIFIED_KEYS_MAX = 1000


def forget_verified_api_keys(**kwargs) -> None:
    with _verified_lock:
        _verified.clear()


def api_key_user(key: str):
    """The active user whose valid (not revoked, not expired) API key this is, or None."""
    if not API_KEY_FORMAT.fullmatch(key):
        return None
    now = time.monotonic()
    hit = _verified.get(key)
    if hit is not None and hit[0] > now:
        # A copy: a request may set attributes on its user.
        return copy.copy(hit[1])
    try:
        api_key = UserAPIKey.objects.get_from_key(key)
    except UserAPIKey.DoesNotExist:
        return None
    if api_key.has_expired or not api_key.user.is_active:
        return None
    ttl = settings.API_KEY_CACHE_SECONDS
    if api_key.expiry_date is not None:
        ttl = min(ttl, (api_key.expiry_date - timezone.now()).total_seconds())
    if ttl > 0:
        with _verified_lock:
            if len(_verified) >= VERIFIED_KEYS_MAX:
                _verified.clear()
            _verified[key] = (now + ttl, copy.copy(api_key.user))
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
