"""The graphs the server runs, by graph id.

They come from a `langgraph.json` (settings.LANGGRAPH_CONFIG; by default the
project's own, listing the built-in graphs) and from settings.RUNS_GRAPHS
(graph id -> "package.module:attribute" or "package.module.attribute").

A graph is a compiled graph, a `StateGraph` (compiled here), or a factory: a
callable taking nothing or the run's config, sync or async, returning a graph
or a (async) context manager that yields one, as LangGraph Platform allows.
Factories are called per use, with the config of the run (or of the request
that reads a thread's state), so a graph can depend on it.

Each graph is the assistant of the same id, as the platform's default
assistants are; `assistant_uuid` is that assistant's UUID.
"""

import contextlib
import functools
import importlib
import importlib.util
import inspect
import logging
import sys
import threading
import uuid
from pathlib import Path

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from runs.graphs.config import GraphSpec, apply_env, load_config, parse_import_string

logger = logging.getLogger(__name__)

# The platform's default assistant of a graph has the UUID uuid5(NAMESPACE, graph_id).
_ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


class GraphLoadError(Exception):
    """A graph that cannot be imported or is not a graph."""


def assistant_uuid(graph_id: str) -> str:
    return str(uuid.uuid5(_ASSISTANT_NAMESPACE, graph_id))


def _module_name(file: Path) -> str | None:
    """The dotted name `file` has as a module of a package on sys.path, so that
    a graph file inside the project is imported once, under its own name."""
    for entry in sys.path:
        try:
            relative = file.relative_to(Path(entry or ".").resolve())
        except ValueError:
            continue
        parts = relative.with_suffix("").parts
        root = Path(entry or ".").resolve()
        packages = [root.joinpath(*parts[:i]) for i in range(1, len(parts))]
        if all((folder / "__init__.py").is_file() for folder in packages):
            return ".".join(parts)
    return None


def _import_file(file: Path):
    name = _module_name(file)
    if name is not None:
        return importlib.import_module(name)
    name = f"doubletext_graphs.{file.stem}_{uuid.uuid5(uuid.NAMESPACE_URL, str(file)).hex[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


class Registry:
    def __init__(self, specs: dict[str, GraphSpec]):
        self.specs = specs
        self._sources: dict[str, object] = {}
        self._lock = threading.Lock()

    def ids(self) -> list[str]:
        return list(self.specs)

    def resolve(self, assistant_id) -> str | None:
        """The graph id an assistant id (a graph id or its UUID) names, or None."""
        if assistant_id in self.specs:
            return assistant_id
        for graph_id in self.specs:
            if assistant_uuid(graph_id) == str(assistant_id).lower():
                return graph_id
        return None

    def source(self, graph_id: str):
        """What the graph's import string names (imported once)."""
        with self._lock:
            if graph_id not in self._sources:
                self._sources[graph_id] = self._import(self.specs[graph_id])
            return self._sources[graph_id]

    def preload(self) -> None:
        """Import every graph now (a server's or worker's start) rather than
        in the first request that validates a run against it, which paid for
        importing the graph and LangChain (hundreds of milliseconds). A graph
        that fails is logged; its runs get the error, as before."""
        for graph_id in self.specs:
            try:
                self.source(graph_id)
            except GraphLoadError as error:
                logger.error("%s", error)

    def _import(self, spec: GraphSpec):
        where = spec.file or spec.module
        try:
            module = _import_file(spec.file) if spec.file else importlib.import_module(spec.module)
            obj = getattr(module, spec.attribute)
        except Exception as error:
            raise GraphLoadError(
                f"graph {spec.graph_id!r}: cannot import {where}: {error}"
            ) from error
        if isinstance(obj, StateGraph):
            obj = obj.compile()
        if not isinstance(obj, Pregel) and not callable(obj):
            raise GraphLoadError(
                f"graph {spec.graph_id!r}: {where}:{spec.attribute} is a "
                f"{type(obj).__name__}, not a graph or a function that makes one"
            )
        return obj


def _specs_from_settings() -> dict[str, GraphSpec]:
    specs: dict[str, GraphSpec] = {}
    path = settings.LANGGRAPH_CONFIG
    if path:
        config = load_config(Path(path))
        apply_env(config.env)
        for folder in config.import_paths:
            if str(folder) not in sys.path:
                sys.path.append(str(folder))
        specs.update(config.graphs)
    for graph_id, dotted in (settings.RUNS_GRAPHS or {}).items():
        if ":" not in dotted:
            module, _, attribute = dotted.rpartition(".")
            dotted = f"{module}:{attribute}"
        specs[graph_id] = parse_import_string(graph_id, dotted, None, "settings.RUNS_GRAPHS")
    if not specs:
        raise ImproperlyConfigured("No graphs: set LANGGRAPH_CONFIG or RUNS_GRAPHS.")
    return specs


@functools.cache
def registry() -> Registry:
    return Registry(_specs_from_settings())


@receiver(setting_changed)
def _settings_changed(setting, **kwargs):
    if setting in ("LANGGRAPH_CONFIG", "RUNS_GRAPHS"):
        registry.cache_clear()


def resolve(assistant_id) -> str | None:
    return registry().resolve(assistant_id)


def _attach(graph, graph_id: str, checkpointer, store) -> Pregel:
    if isinstance(graph, StateGraph):
        graph = graph.compile()
    if not isinstance(graph, Pregel):
        raise GraphLoadError(f"the graph factory returned a {type(graph).__name__}, not a graph")
    # The server's persistence, whatever the graph was compiled with; named
    # after its id, as the platform names it (events, traces).
    return graph.copy(update={"checkpointer": checkpointer, "store": store, "name": graph_id})


def _call_factory(factory, config: dict):
    parameters = [
        p
        for p in inspect.signature(factory).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return factory(config) if parameters else factory()


@contextlib.asynccontextmanager
async def graph_for(graph_id: str, config: dict, *, checkpointer=None, store=None):
    """`async with graph_for(...) as graph`: the graph, with the server's
    checkpointer and store, built for `config` if it comes from a factory."""
    source = registry().source(graph_id)
    if isinstance(source, Pregel):
        yield _attach(source, graph_id, checkpointer, store)
        return
    made = _call_factory(source, config)
    if inspect.isawaitable(made):
        made = await made
    if hasattr(made, "__aenter__"):
        async with made as graph:
            yield _attach(graph, graph_id, checkpointer, store)
    elif hasattr(made, "__enter__") and not isinstance(made, Pregel | StateGraph):
        with made as graph:
            yield _attach(graph, graph_id, checkpointer, store)
    else:
        yield _attach(made, graph_id, checkpointer, store)


@contextlib.contextmanager
def graph_sync(graph_id: str, config: dict, *, checkpointer=None, store=None):
    """`graph_for` for sync code (a view reading a thread's state)."""
    source = registry().source(graph_id)
    if isinstance(source, Pregel):
        yield _attach(source, graph_id, checkpointer, store)
        return
    made = _call_factory(source, config)
    if inspect.isawaitable(made):
        made = async_to_sync(_awaited)(made)
    if hasattr(made, "__aenter__"):
        graph = async_to_sync(made.__aenter__)()
        try:
            yield _attach(graph, graph_id, checkpointer, store)
        finally:
            async_to_sync(made.__aexit__)(None, None, None)
    elif hasattr(made, "__enter__") and not isinstance(made, Pregel | StateGraph):
        with made as graph:
            yield _attach(graph, graph_id, checkpointer, store)
    else:
        yield _attach(made, graph_id, checkpointer, store)


async def _awaited(awaitable):
    return await awaitable
