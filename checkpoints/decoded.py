"""Channel values decoded once per process, for savers that only read.

A checkpoint's blob is the value of one channel at one version, and never
changes: `DjangoCheckpointSaver.get_next_version` makes versions
"<counter>.<random>", so a thread rolled back and run again writes its
channels at versions of their own, and a thread's blobs are deleted only with
the checkpoints that name them. A reader that decoded a blob may therefore
keep it without asking the database whether it is still good: a later read
of a checkpoint naming it neither fetches nor decodes it again. On a long
conversation that is most of a state read (the messages channel: 2.7 of
`get_state`'s 4.2 ms of CPU at 480 messages, bench/README.md). A channel
changed is a new blob, decoded whole: a chat's next state decodes the whole
conversation once, then each read of it (polls, the history pages after the
next run) decodes nothing.

Versions not in that form (another saver's ints or floats, kept as their
`str()`) may be written again with other contents, and are not kept.

What it hands out is shared by the readers of this process. Each read gets
its own copy of a value that is a list or a dict (a reducer that extends the
list it was given changes that copy only); the items in it (the messages)
are the kept ones, to be read, not changed: the API's state reads turn them
into JSON.

That JSON is kept too. A list is handed out as a `KeptList`, which knows the
kept items it was copied from and the JSON form of each, made the first time
a reader asks for it (`KeptList.json`): once the conversation is decoded,
turning its messages into JSON was most of what a state read had left to do
(2.9 µs a message; 1.35 of `get_state`'s 1.55 ms of CPU at 480 messages, 14
of `history`'s 19 ms at limit 10).
"""

from __future__ import annotations

import collections
import copy
import threading
from collections.abc import Callable
from typing import Any

# (thread_id, checkpoint_ns, channel, version)
BlobKey = tuple[str, str, str, str]

_COUNTER_DIGITS = 32  # get_next_version's "<32 digits>.<random>"


def lasting(version: str) -> bool:
    """Whether a version names one value for good (made by our saver)."""
    return (
        len(version) > _COUNTER_DIGITS + 1
        and version[_COUNTER_DIGITS] == "."
        and version[:_COUNTER_DIGITS].isdigit()
    )


class KeptList(list):
    """A reader's copy of a kept list: a plain list to change as it likes, that
    also knows the kept items it was copied from (`kept`: the kept list, and
    the JSON form of each item, or None until asked for)."""

    __slots__ = ("kept",)

    def json(self, convert: Callable[[Any], Any]) -> list:
        """The list as JSON, each item by `convert`: for an item still the kept
        one at its place, its JSON form made once for every reader. Each
        reader gets its own copy of a form's outer dict."""
        items, forms = self.kept
        known = min(len(items), len(forms))  # as long as each other, unless changed
        found = []
        for i, item in enumerate(self):
            if i < known and items[i] is item:
                form = forms[i]
                if form is None:
                    form = forms[i] = convert(item)
                found.append(dict(form) if type(form) is dict else form)
            else:  # put there by the reader
                found.append(convert(item))
        return found

    # Copied or pickled, it is the plain list it stands for.
    def __copy__(self):
        return list(self)

    def __deepcopy__(self, memo):
        return copy.deepcopy(list(self), memo)

    def __reduce__(self):
        return (list, (list(self),))


def outer_copy(value: Any) -> Any:
    """A copy of a value's outer list or dict (its items shared); other values
    as they are."""
    kind = type(value)
    return list(value) if kind is list else dict(value) if kind is dict else value


def handed_out(value: Any, forms: list | None) -> Any:
    """A reader's own copy of a kept value's outer list (with the JSON `forms`
    of its items) or dict."""
    if type(value) is list:
        handed = KeptList(value)
        handed.kept = (value, forms)
        return handed
    return outer_copy(value)


class DecodedBlobs:
    """The decoded values of the blobs read lately, up to `max_bytes` of their
    stored size, the least recently read forgotten first."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        # key -> (value, its stored size, its items' JSON forms if a list)
        self.kept: collections.OrderedDict[BlobKey, tuple[Any, int, list | None]] = (
            collections.OrderedDict()
        )
        self.lock = threading.Lock()  # read from request threads at once

    def get(self, key: BlobKey, default: Any = None) -> Any:
        with self.lock:
            found = self.kept.get(key)
            if found is None:
                return default
            self.kept.move_to_end(key)
        return handed_out(found[0], found[2])

    def keep(self, key: BlobKey, value: Any, stored_bytes: int) -> Any:
        """Keeps `value` (if it lasts and fits) and returns the caller's copy."""
        if self.max_bytes <= 0 or stored_bytes > self.max_bytes or not lasting(key[3]):
            return value
        with self.lock:
            old = self.kept.pop(key, None)
            if old is not None:
                self.size -= old[1]
            forms = [None] * len(value) if type(value) is list else None
            self.kept[key] = (value, stored_bytes, forms)
            self.size += stored_bytes
            while self.size > self.max_bytes:
                _, (_, size, _) = self.kept.popitem(last=False)
                self.size -= size
        return handed_out(value, forms)
