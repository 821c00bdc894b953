"""Ids from paths and bodies."""

import uuid

from runs.services.errors import InvalidRequest, ThreadNotFound


def parse_id(value, *, field: str, not_found: type[Exception] = ThreadNotFound) -> uuid.UUID:
    """A UUID from a path/body value; a malformed id is simply not found."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise not_found(f"{field} {value!r} not found.", field=field) from None


def new_thread_id(value) -> uuid.UUID:
    """The id a client chose for a new thread: it must be a UUID (422)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise InvalidRequest("thread_id must be a UUID.", field="thread_id") from None
