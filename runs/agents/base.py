"""What an agent is to the executor.

An agent is an object with `stream(messages, options)`: an async iterator of
events. `Token` is a piece of the AI message being streamed; `Step` is a
finished step (the messages it adds to the state and the nodes that come
next). The executor writes a checkpoint after each `Step` and publishes each
`Token`; it checks for cancellation between any two events, so an agent
should yield often.

`check_options(options)` validates a run's `config.configurable` when the run
is created (raising InvalidOption), so bad options are a 422, not a failed run.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Token:
    message_id: str
    text: str
    node: str = "model"


@dataclass(frozen=True)
class Step:
    node: str
    messages: list[dict[str, Any]]
    next: list[str] = field(default_factory=list)


AgentEvent = Token | Step


class InvalidOption(ValueError):
    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
        self.message = message


class Agent(Protocol):
    assistant_id: str
    name: str
    description: str

    def check_options(self, options: dict[str, Any]) -> None: ...

    def stream(
        self, messages: list[dict[str, Any]], options: dict[str, Any]
    ) -> AsyncIterator[AgentEvent]: ...
