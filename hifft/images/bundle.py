"""A trained codec as one file: weights, preprocessing, coding tables and the model version.

``model.pt`` (torch, loaded with ``weights_only=True``) holds the format tag, the
model name and spec, the :class:`~hifft.images.preprocess.LogScale`, the state
dict, the quantised CDF tables of the factorized densities (computed once at save
time, so encoder and decoder read the same integers) and the training record.
The *version* is a hash of all of these: a bitstream carries it and a model of
another version refuses to decode it (:mod:`hifft.images.entropy`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_path
from ..checkpoint import read_checkpoint
from .codecs import ImageCodec, build_model
from .preprocess import LogScale

FORMAT = "hifft.images.codec/1"


@dataclass
class CodecBundle:
    """A loaded codec: ``model`` (eval mode), its ``scale``, coding ``tables`` and ``version``."""

    name: str
    model: ImageCodec
    scale: LogScale
    tables: dict[str, dict[str, np.ndarray]]
    version: str
    record: dict[str, Any] = field(default_factory=dict)
    _side: ImageCodec | None = field(default=None, repr=False)

    @property
    def mask_channel(self) -> bool:
        return self.model.in_channels == 2

    def side_model(self) -> ImageCodec:
        """A float64 copy of the hyper-synthesis (entropy parameters are computed in float64)."""
        if self._side is None:
            import copy

            self._side = copy.deepcopy(self.model).double().eval()
        return self._side


def model_version(name: str, spec: dict[str, Any], scale: LogScale, state: dict[str, torch.Tensor],
                  tables: dict[str, dict[str, np.ndarray]]) -> str:
    """16 hex digits of SHA-256 over everything that decoding depends on."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT, "name": name, "spec": spec, "scale": scale.to_dict()},
                        sort_keys=True).encode())
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().numpy().tobytes())
    for k in sorted(tables):
        for t in sorted(tables[k]):
            h.update(f"{k}.{t}".encode())
            h.update(np.ascontiguousarray(tables[k][t]).tobytes())
    return h.hexdigest()[:16]


def make_bundle(model: ImageCodec, scale: LogScale, name: str, record: dict[str, Any] | None = None) -> CodecBundle:
    """Freeze a (trained) model: eval mode, CDF tables computed, version hashed."""
    from .entropy import model_tables

    if not name or len(name.encode()) > 255:
        raise ValueError(f"model.name: must be 1–255 bytes, got {name!r}")
    model = model.eval()
    tables = model_tables(model)
    version = model_version(name, model.spec(), scale, model.state_dict(), tables)
    return CodecBundle(name=name, model=model, scale=scale, tables=tables, version=version, record=record or {})


def save_bundle(bundle: CodecBundle, path: str | os.PathLike[str]) -> Path:
    """Write ``bundle`` to ``path`` atomically."""
    blob = {
        "format": FORMAT, "name": bundle.name, "version": bundle.version, "spec": bundle.model.spec(),
        "scale": bundle.scale.to_dict(), "state": bundle.model.state_dict(),
        "tables": {k: {t: torch.from_numpy(np.ascontiguousarray(a)) for t, a in v.items()}
                   for k, v in bundle.tables.items()},
        "record": json.dumps(bundle.record),
    }
    p = Path(path)
    with atomic_path(p) as tmp:
        torch.save(blob, tmp)
    return p


def load_bundle(path: str | os.PathLike[str]) -> CodecBundle:
    """Read a codec file; refuses other files and files whose content does not match their version."""
    p = Path(path)
    blob = read_checkpoint(p, "a codec model file", FORMAT)
    spec = blob["spec"]
    model = build_model(spec["kind"], spec["n"], spec["m"], spec["in_channels"])
    model.load_state_dict(blob["state"])
    model.eval()
    scale = LogScale.from_dict(blob["scale"])
    tables = {k: {t: a.numpy() for t, a in v.items()} for k, v in blob["tables"].items()}
    version = model_version(blob["name"], spec, scale, model.state_dict(), tables)
    if version != blob["version"]:
        raise ValueError(f"{p}: content does not match its recorded version {blob['version']} "
                         f"(hash {version}); the file is damaged")
    return CodecBundle(name=blob["name"], model=model, scale=scale, tables=tables, version=version,
                       record=json.loads(blob["record"]))


__all__ = ["FORMAT", "CodecBundle", "load_bundle", "make_bundle", "model_version", "save_bundle"]
