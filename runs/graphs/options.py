"""How a graph reads its run options: `config.configurable`, then `context`.

Clients of the LangGraph API send options in `config.configurable` today;
LangGraph 1.x adds `context`, typed by the graph's context schema. A run may
use either, so graphs read both, `context` winning. Only the options a run
set count: LangGraph coerces a `context` dict into the schema, filling the
defaults of the others, and those must not hide what `configurable` set.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

Options = TypeVar("Options", bound=BaseModel)


def read_options(schema: type[Options], config: RunnableConfig | None, context: Any) -> Options:
    """The run's options, validated by `schema` (pydantic ValidationError if not)."""
    names = schema.model_fields
    configurable = (config or {}).get("configurable") or {}
    given = {name: configurable[name] for name in names if name in configurable}
    if isinstance(context, BaseModel):
        given.update(context.model_dump(include=context.model_fields_set & set(names)))
    elif isinstance(context, Mapping):
        given.update({name: context[name] for name in names if name in context})
    return schema.model_validate(given)
