"""Checks on the JSON that clients send, before anything stores or queries it.

JSON can carry what the databases refuse or what costs the server dearly:
NUL characters (PostgreSQL rejects them in text and jsonb), lone UTF-16
surrogates (not encodable as UTF-8) and deep nesting (recursion in every
later encode and decode). The REST parser and the websocket both run
`check_json` on what they receive, so such input is a clear 4xx / error frame
naming the field, never a server error.
"""

import re

from django.conf import settings

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class PayloadError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def check_text(text: str, field: str) -> None:
    if _UNSTORABLE.search(text):
        raise PayloadError(
            field, "Text may not contain NUL (\\u0000) or unpaired surrogate characters."
        )


def check_json(value, *, max_depth: int | None = None) -> None:
    """Raise PayloadError naming the first unacceptable place in `value`."""
    limit = max_depth or settings.RUNS_MAX_JSON_DEPTH
    stack = [(value, "", 0)]
    while stack:
        item, field, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, field or "body")
        elif isinstance(item, dict | list):
            if depth >= limit:
                raise PayloadError(field or "body", f"JSON is nested deeper than {limit} levels.")
            if isinstance(item, dict):
                for key, child in item.items():
                    check_text(key, field or "body")
                    stack.append((child, f"{field}.{key}" if field else key, depth + 1))
            else:
                stack.extend((child, f"{field}[{i}]", depth + 1) for i, child in enumerate(item))
