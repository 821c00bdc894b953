"""Who acts, and which threads they see.

Every service function that reads or changes a thread takes `actor=`: a
user, who sees only the threads they own (another user's thread is exactly
as missing as one that does not exist, so ids cannot be probed), or
`SYSTEM`, the server itself (the admin, the worker), which sees every thread.
There is no default: a new caller has to say who it acts for.
"""

from django.db.models import Q

from runs.models import Thread


class SystemActor:
    """The server acting on its own behalf: the admin and the worker."""

    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM = SystemActor()


def check_actor(actor) -> None:
    """A programming error, not a client's: an actor must be SYSTEM or a
    signed-in user (the adapters authenticate before calling services)."""
    if actor is SYSTEM:
        return
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.pk is None:
        raise TypeError(f"actor must be a signed-in user or SYSTEM, not {actor!r}")


def thread_filter(actor, path: str = "") -> Q:
    """A filter for what `actor` may see, on Thread (`path` ""), or on a model
    related to it (`path` "thread__"), so that the check is part of the query
    that reads."""
    check_actor(actor)
    if actor is SYSTEM:
        return Q()
    return Q(**{f"{path}owner": actor})


def owner_key(actor, path: str = "") -> dict:
    """`thread_filter` as the fields of a lookup by key
    (chatapp.platform.prepared.select): none for SYSTEM."""
    check_actor(actor)
    return {} if actor is SYSTEM else {f"{path}owner": actor.pk}


def visible_threads(actor):
    """The threads `actor` may see and act on."""
    return Thread.objects.filter(thread_filter(actor))


def owner_of_new_threads(actor):
    """The user a thread created by `actor` belongs to (SYSTEM owns none)."""
    check_actor(actor)
    if actor is SYSTEM:
        raise TypeError("threads belong to a user; SYSTEM cannot create one")
    return actor
