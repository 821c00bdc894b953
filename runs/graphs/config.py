"""Reading a `langgraph.json`, the LangGraph CLI's configuration file.

What it says is honoured or refused, never dropped:
- `graphs`: graph id → "./path/to/file.py:attribute" (relative to the file) or
  "package.module:attribute", or {"path": ..., "description": ...};
- `env`: variables (an object) or a .env file's path; set for the process
  unless already set;
- `dependencies`: local folders ("." ...) are put on the import path, as the
  CLI installs them; other entries (packages) must be installed already;
- keys that only describe a container image (python_version, base_image,
  dockerfile_lines...) are accepted and have nothing to do here;
- keys that would change what the server does and that Doubletext does not
  implement (auth, http, store, checkpointer, webhooks, encryption, ui, ...)
  are refused with an error naming them, as are JavaScript graphs.
"""

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

IMAGE_ONLY_KEYS = frozenset(
    {
        "$schema",
        "python_version",
        "node_version",
        "api_version",
        "base_image",
        "image_distro",
        "pip_config_file",
        "pip_installer",
        "source",
        "dockerfile_lines",
        "keep_pkg_tools",
        "_INTERNAL_docker_tag",
    }
)
UNSUPPORTED_KEYS = frozenset(
    {
        "auth",
        "http",
        "store",
        "checkpointer",
        "webhooks",
        "encryption",
        "priority",
        "ui",
        "ui_config",
        "project_root",
        "package",
    }
)
JS_SUFFIXES = (".ts", ".mts", ".cts", ".js", ".mjs", ".cjs", ".tsx", ".jsx")


@dataclass(frozen=True)
class GraphSpec:
    """Where a graph comes from: a module (dotted) or a file, and an attribute."""

    graph_id: str
    module: str  # dotted module path, or "" when `file` is set
    attribute: str
    file: Path | None = None
    description: str | None = None


@dataclass
class LanggraphConfig:
    path: Path | None
    graphs: dict[str, GraphSpec] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    import_paths: list[Path] = field(default_factory=list)


def _refuse(path, message: str):
    raise ImproperlyConfigured(f"{path}: {message}")


def parse_import_string(graph_id: str, value, base_dir: Path | None, where) -> GraphSpec:
    description = None
    if isinstance(value, dict):
        if "path" not in value:
            _refuse(where, f"graph {graph_id!r}: an object needs a 'path'")
        description = value.get("description")
        value = value["path"]
    if not isinstance(value, str):
        _refuse(where, f"graph {graph_id!r}: expected 'module:attribute' or 'file.py:attribute'")
    module, _, attribute = value.rpartition(":")
    if not module or not attribute:
        _refuse(where, f"graph {graph_id!r}: {value!r} is not in the form '<module>:<attribute>'")
    if module.endswith(JS_SUFFIXES):
        _refuse(where, f"graph {graph_id!r}: JavaScript graphs are not supported ({module})")
    if "/" in module or "\\" in module or module.endswith(".py"):
        file = ((base_dir or Path.cwd()) / module).resolve()
        if not file.is_file():
            _refuse(where, f"graph {graph_id!r}: no such file {file}")
        return GraphSpec(graph_id, "", attribute, file=file, description=description)
    return GraphSpec(graph_id, module, attribute, description=description)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments, `export ` and quotes allowed)."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def load_config(path: Path) -> LanggraphConfig:
    try:
        raw = json.loads(path.read_text())
    except OSError as error:
        _refuse(path, f"cannot read it ({error})")
    except ValueError as error:
        _refuse(path, f"not valid JSON ({error})")
    if not isinstance(raw, dict):
        _refuse(path, "expected a JSON object")
    refused = sorted(key for key in UNSUPPORTED_KEYS & set(raw) if raw[key] not in (None, {}, []))
    if refused:
        _refuse(path, f"Doubletext does not support {', '.join(refused)} (remove them)")
    unknown = set(raw) - UNSUPPORTED_KEYS - IMAGE_ONLY_KEYS - {"graphs", "env", "dependencies"}
    for key in sorted(unknown):
        logger.warning("%s: unknown key %r ignored (the LangGraph CLI ignores it too)", path, key)
    base_dir = path.parent.resolve()
    graphs = raw.get("graphs") or {}
    if not isinstance(graphs, dict):
        _refuse(path, "'graphs' must be an object of graph id -> 'module:attribute'")
    config = LanggraphConfig(path=path)
    for graph_id, value in graphs.items():
        config.graphs[graph_id] = parse_import_string(graph_id, value, base_dir, path)
    env = raw.get("env") or {}
    if isinstance(env, str):
        env_path = (base_dir / env).resolve()
        if not env_path.is_file():
            _refuse(path, f"env file {env_path} not found")
        config.env = read_env_file(env_path)
    elif isinstance(env, dict):
        config.env = {str(k): str(v) for k, v in env.items()}
    else:
        _refuse(path, "'env' must be an object or the path of a .env file")
    for dependency in raw.get("dependencies") or []:
        if isinstance(dependency, str) and dependency.startswith((".", "/")):
            config.import_paths.append((base_dir / dependency).resolve())
    return config


def apply_env(env: dict[str, str]) -> None:
    for key, value in env.items():
        os.environ.setdefault(key, value)
