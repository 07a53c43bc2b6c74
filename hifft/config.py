"""Job configuration: strict pydantic models loaded from YAML.

- YAML is parsed with a safe loader that also rejects duplicate keys
  (PyYAML silently keeps the last one otherwise).
- Models derive from :class:`StrictModel` (``extra="forbid"``), so a typo is
  an error naming the field and the file.
- Environment variables ``HIFFT_<SECTION>__<KEY>=value`` override values
  (value parsed as YAML), e.g. ``HIFFT_FFT__BACKEND=numpy``.

The overrides are our own ~20 lines rather than pydantic-settings: they
merge into the YAML file's data *before* validation (file < environment),
so an overridden key is validated and a misspelt one is rejected like a
typo in the file (pydantic-settings ignores variables that match no
field, and ranks init values above the environment); values use the same
YAML syntax as the file; and callers (tests) pass ``environ`` explicitly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

ENV_PREFIX = "HIFFT_"
#: Separates the section from the key (``HIFFT_FFT__BACKEND``); ``HIFFT_`` variables
#: without it (``HIFFT_SCHEDULER``, ``HIFFT_DEBUG``, ...) are settings of their own.
ENV_NESTED = "__"

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file or value is invalid; the message names file and field."""


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors; values validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
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


def _is_override(name: str) -> bool:
    rest = name[len(ENV_PREFIX) :]
    return name.startswith(ENV_PREFIX) and ENV_NESTED in rest and any(rest.split(ENV_NESTED))


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Nested dict from ``HIFFT_A__B=value`` variables (keys lower-cased, values as YAML).

    Only ``HIFFT_`` names holding ``__`` are overrides (``HIFFT_SCHEDULER`` is not).
    Raises :class:`ConfigError` naming the variable for a value that is not
    YAML, or for two variables that make a key both a value and a section.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for name, raw in sorted(env.items()):
        if not _is_override(name):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split(ENV_NESTED) if p]
        try:
            value = yaml.safe_load(raw) if raw else raw
        except yaml.YAMLError as exc:
            raise ConfigError(f"environment variable {name}: not valid YAML: {exc}") from None
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name}: '{p}' is also given a value by another variable")
        if isinstance(node.get(path[-1]), dict):
            raise ConfigError(f"environment variable {name}: '{path[-1]}' is a section set by other variables")
        node[path[-1]] = value
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
    """One line naming ``source`` and the number of problems, then one line per field."""
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
    path: str | os.PathLike[str], model: type[M], environ: Mapping[str, str] | None = None
) -> M:
    """Load YAML at ``path``, apply ``HIFFT_`` overrides, validate against ``model``.

    Errors name the file, and the override variables when any were applied.
    """
    env = os.environ if environ is None else environ
    over = env_overrides(env)
    source = str(path)
    if over:
        names = sorted(n for n in env if _is_override(n))
        source += f" (with environment overrides {', '.join(names)})"
    return validate(model, deep_merge(load_yaml(path), over), source)


class Range(StrictModel):
    """A parameter drawn uniformly in [low, high] (a bare number fixes it; a list is [low, high])."""

    low: float
    high: float

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, int | float | str) and not isinstance(data, bool):
            return {"low": data, "high": data}
        if isinstance(data, list | tuple):
            if len(data) != 2:
                raise ValueError(f"a range is [low, high]; got {len(data)} values")
            return {"low": data[0], "high": data[1]}
        return data

    @model_validator(mode="after")
    def _order(self) -> Range:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite")
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        return self

    @overload
    def sample(self, rng: np.random.Generator, n: None = None) -> float: ...
    @overload
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray: ...
    def sample(self, rng: np.random.Generator, n: int | None = None) -> float | np.ndarray:
        """One uniform draw (``n`` None) or ``n`` of them."""
        if n is None:
            return float(rng.uniform(self.low, self.high)) if self.high > self.low else self.low
        return rng.uniform(self.low, self.high, size=n) if self.high > self.low else np.full(n, self.low)

    def sample_log(self, rng: np.random.Generator) -> float:
        """One log-uniform draw (both ends must be > 0)."""
        if self.high <= self.low:
            return self.low
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


class PositiveRange(Range):
    """A range with low > 0."""

    @model_validator(mode="after")
    def _positive(self) -> PositiveRange:
        if self.low <= 0:
            raise ValueError(f"low must be > 0, got {self.low}")
        return self


class LengthRange(Range):
    """A length range in Å (strings with units accepted)."""

    @field_validator("low", "high", mode="before")
    @classmethod
    def _len(cls, v: Any, info: Any) -> float:
        from . import units

        return units.length(v, info.field_name)


class PositiveLengthRange(LengthRange, PositiveRange):
    """A length range in Å with low > 0."""
