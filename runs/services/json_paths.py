"""The paths of `POST /threads/search`'s `extract`: `values.messages[-1].content`.

A path is a root (one of the thread's JSON fields) followed by `.key` and
`[index]` steps; an index may be negative (from the end), and a `.N` step on
a list is an index too, as in PostgreSQL's `#>`. Paths are parsed here, by a
strict grammar, and followed in Python on the threads of the page being
returned: they never reach SQL, so no path can change a query, and the work is
bounded by the page (at most 1000 threads) times the paths (at most 10) times
their steps. A step that finds nothing (a missing key, an index out of range,
a key of a list) gives null, as on LangGraph Platform.
"""

import re

from runs.services.errors import InvalidRequest

ROOTS = ("values", "metadata", "config", "interrupts")
MAX_PATHS = 10
MAX_PATH_CHARS = 512
MAX_ALIAS_CHARS = 128

_PATH = re.compile(r"(?P<root>[a-z]+)(?P<steps>(?:\.[^.\[\]]+|\[-?[0-9]{1,9}\])*)")
_STEP = re.compile(r"\.([^.\[\]]+)|\[(-?[0-9]+)\]")
_INDEX = re.compile(r"-?[0-9]{1,9}")


def parse(path, *, field: str) -> tuple[str, list[str | int]]:
    """(root, steps) of a path; InvalidRequest naming `field` if it is not one."""
    if not isinstance(path, str) or len(path) > MAX_PATH_CHARS:
        raise InvalidRequest(
            f"An extract path is a string of at most {MAX_PATH_CHARS} characters.", field=field
        )
    match = _PATH.fullmatch(path)
    if match is None or match["root"] not in ROOTS:
        raise InvalidRequest(
            f"Invalid extract path {path!r}: it starts with one of {', '.join(ROOTS)}, then "
            "'.key' and '[index]' steps, e.g. 'values.messages[-1].content'.",
            field=field,
        )
    steps = [int(index) if index else key for key, index in _STEP.findall(match["steps"])]
    return match["root"], steps


def parse_extract(extract: dict | None) -> dict[str, tuple[str, list[str | int]]]:
    """{alias: (root, steps)} of an `extract` object (at most MAX_PATHS)."""
    if extract is None:
        return {}
    if not isinstance(extract, dict):
        raise InvalidRequest("extract must be an object of alias: path.", field="extract")
    if len(extract) > MAX_PATHS:
        raise InvalidRequest(f"extract takes at most {MAX_PATHS} paths.", field="extract")
    parsed = {}
    for alias, path in extract.items():
        if not alias or len(alias) > MAX_ALIAS_CHARS:
            raise InvalidRequest(
                f"An extract alias has 1 to {MAX_ALIAS_CHARS} characters.", field="extract"
            )
        parsed[alias] = parse(path, field=f"extract.{alias}")
    return parsed


def follow(value, steps: list[str | int]):
    """The value at `steps` inside `value`, or None."""
    for step in steps:
        if isinstance(value, dict) and isinstance(step, str):
            value = value.get(step)
        elif isinstance(value, list) and (isinstance(step, int) or _INDEX.fullmatch(step)):
            index = int(step)
            value = value[index] if -len(value) <= index < len(value) else None
        else:
            return None
    return value
