"""A run's options, checked against its graph's context schema when it is created.

A graph declares what a run may set with `context_schema` (LangGraph 1.x:
`StateGraph(State, context_schema=Options)`, a pydantic model, TypedDict or
dataclass). Clients send those options as `context`, or, as LangGraph's
examples long did, in `config.configurable`; both are checked against the
schema here, so a bad value is a 422 naming the field when the run is
created, not a failed run later. Only the keys the schema knows are checked
in `configurable` (it also carries thread ids and the like), and a missing
required option is the graph's business. Graphs made by a factory are only
known when the run executes: theirs are not checked here.
"""

import dataclasses
import functools
import typing

from langgraph.pregel import Pregel
from pydantic import BaseModel, TypeAdapter, ValidationError

from runs.graphs.registry import registry
from runs.services.errors import InvalidRequest


def _field_names(schema) -> set[str]:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return set(schema.model_fields)
    if dataclasses.is_dataclass(schema):
        return {f.name for f in dataclasses.fields(schema)}
    try:
        return set(typing.get_type_hints(schema))
    except Exception:
        return set()


@functools.cache
def _adapter(schema) -> TypeAdapter:
    return TypeAdapter(schema)


def _check(schema, values: dict, prefix: str) -> None:
    try:
        _adapter(schema).validate_python(values)
    except ValidationError as error:
        for problem in error.errors():
            if problem["type"] == "missing":
                continue
            where = ".".join(str(part) for part in problem["loc"])
            raise InvalidRequest(
                f"{prefix}.{where}: {problem['msg']}", field=f"{prefix}.{where}"
            ) from None


def check_options(graph_id: str, config, context) -> None:
    """Raise InvalidRequest (422) for a malformed config/context or an option
    the graph's context schema refuses."""
    if config is not None and not isinstance(config, dict):
        raise InvalidRequest("config must be an object.", field="config")
    configurable = (config or {}).get("configurable") or {}
    if not isinstance(configurable, dict):
        raise InvalidRequest("config.configurable must be an object.", field="config.configurable")
    if context is not None and not isinstance(context, dict):
        raise InvalidRequest("context must be an object.", field="context")
    graph = registry().source(graph_id)
    schema = getattr(graph, "context_schema", None) if isinstance(graph, Pregel) else None
    if schema is None:
        return
    names = _field_names(schema)
    known = {key: value for key, value in configurable.items() if key in names}
    if known:
        _check(schema, known, "config.configurable")
    if context:
        _check(schema, context, "context")
