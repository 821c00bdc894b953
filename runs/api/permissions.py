"""Ownership on the REST API: a thread in the path must be the caller's."""

from rest_framework.permissions import BasePermission

from runs import access
from runs.exceptions import ThreadNotFound


class OwnsThread(BasePermission):
    """Another user's thread answers 404, exactly like a missing one.

    A thread that does not exist passes here: the view answers 404 itself,
    or creates it for the caller (`if_not_exists="create"`).
    """

    def has_permission(self, request, view):
        thread_id = view.kwargs.get("thread_id")
        if thread_id is not None and access.foreign_thread(request.user, thread_id):
            raise ThreadNotFound(f"Thread {thread_id} not found.", field="thread_id")
        return True
