"""Job configuration: strict pydantic models loaded from YAML.

- YAML is parsed with a safe loader that also rejects duplicate keys
  (PyYAML silently keeps the last one otherwise).
- Models derive from :class:`StrictModel` (``extra="forbid"``), so a typo is
  an error naming the field and the file.
- Environment variables ``HIFFT_<SECTION>__<KEY>=value`` override values
  (value parsed as YAML), e.g. ``HIFFT_FFT__BACKEND=numpy``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

ENV_PREFIX = "HIFFT_"
#: Environment variables with this prefix that are not config overrides.
_ENV_RESERVED = {"HIFFT_SCHEDULER", "HIFFT_THREADS", "HIFFT_TMPDIR"}

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file or value is invalid; the message names file and field."""


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors; values validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in out:
            mark = key_node.start_mark
            raise ConfigError(
                f"{mark.name}:{mark.line + 1}: duplicate key {key!r} (first given at an earlier line)"
            )
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping safely; duplicate keys and non-mappings are errors."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    text = p.read_text(encoding="utf-8")
    try:
        loader = _UniqueKeyLoader(text)
        loader.name = str(p)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping of sections, got {type(data).__name__}")
    return data


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Nested dict from ``HIFFT_A__B=value`` variables (keys lower-cased, values as YAML)."""
    environ = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _ENV_RESERVED:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not path:
            continue
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
        node[path[-1]] = yaml.safe_load(raw) if raw else raw
    return out


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``, recursively for mappings."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration ({exc.error_count()} problem(s))"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  - field '{loc}': {err['msg']}")
    return "\n".join(lines)


def validate(model: type[M], data: dict[str, Any], source: str = "<config>") -> M:
    """Validate ``data`` against ``model``; errors name each field and ``source``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_config(
    path: str | os.PathLike[str], model: type[M], environ: dict[str, str] | None = None
) -> M:
    """Load YAML at ``path``, apply ``HIFFT_`` overrides, validate against ``model``."""
    data = deep_merge(load_yaml(path), env_overrides(environ))
    return validate(model, data, str(path))
