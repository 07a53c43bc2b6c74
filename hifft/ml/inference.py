"""Loading a trained ensemble and predicting shape and parameters as xarray.

``load(path)`` returns a :class:`Predictor`; ``Predictor.predict(curves)``
takes an xarray Dataset with ``I``, ``sigma`` (and optionally ``mask``) on
dimension ``q`` (plus an optional sample dimension) and returns a Dataset:

- ``prob (sample, class)``: ensemble-averaged class probabilities;
- ``shape (sample)``: the most probable class name; ``shape_index``;
- ``value/std/lower/upper (sample, param)``: the predicted class's
  parameters (NaN for parameters the class does not have): median, std
  (delta method), and the central interval at ``attrs["coverage"]`` after
  the validation-set calibration;
- ``slot_value/slot_std/slot_lower/slot_upper (sample, slot)``: every
  class's parameters, e.g. slot ``"cylinder:length"`` (used to score
  parameters given the true class).

Curves on another q grid are rebinned (inverse-variance mean of the input
points in each model bin) or interpolated log-log where the input is
sparser; model bins outside the input's q range are masked.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import shapes as S
from .features import TargetCoder, inverse, log_curves
from .noise import bin_widths


def regrid(
    q_in: np.ndarray, i_in: np.ndarray, s_in: np.ndarray, q_out: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(I, σ, mask)`` on ``q_out`` from a curve on ``q_in`` (see module doc)."""
    q_in = np.asarray(q_in, dtype=np.float64)
    i_in = np.asarray(i_in, dtype=np.float64)
    s_in = np.asarray(s_in, dtype=np.float64)
    ok = np.isfinite(q_in) & np.isfinite(i_in) & np.isfinite(s_in) & (s_in > 0) & (q_in > 0)
    q_in, i_in, s_in = q_in[ok], i_in[ok], s_in[ok]
    order = np.argsort(q_in)
    q_in, i_in, s_in = q_in[order], i_in[order], s_in[order]
    nout = q_out.size
    i_out = np.full(nout, np.nan)
    s_out = np.full(nout, np.nan)
    mask = np.zeros(nout, dtype=bool)
    if q_in.size < 2:
        return i_out, s_out, mask
    w = bin_widths(q_out)
    mid = np.sqrt(q_out[1:] * q_out[:-1])
    edges = np.concatenate([[q_out[0] ** 2 / mid[0]], mid, [q_out[-1] ** 2 / mid[-1]]])
    inside = (q_out >= q_in[0]) & (q_out <= q_in[-1])
    b = np.searchsorted(edges, q_in, side="right") - 1
    for j in np.flatnonzero(inside):
        sel = b == j
        if sel.any():
            wt = 1.0 / s_in[sel] ** 2
            i_out[j] = np.sum(wt * i_in[sel]) / wt.sum()
            s_out[j] = 1.0 / np.sqrt(wt.sum())
            mask[j] = True
    # bins with no input point inside: interpolate (log-log where positive)
    need = inside & ~mask
    if need.any():
        lq = np.log(q_in)
        pos = i_in > 0
        if pos.sum() >= 2:
            li = np.interp(np.log(q_out[need]), lq[pos], np.log(i_in[pos]))
            i_out[need] = np.exp(li)
        else:
            i_out[need] = np.interp(np.log(q_out[need]), lq, i_in)
        rel = np.interp(np.log(q_out[need]), lq, s_in / np.maximum(np.abs(i_in), 1e-300))
        # an interpolated point is worth one input point spread over a wider
        # bin; keep its relative error, scaled by the bin-width ratio
        dq_in = np.interp(np.log(q_out[need]), lq, np.gradient(q_in))
        s_out[need] = rel * np.abs(i_out[need]) * np.sqrt(np.maximum(dq_in / w[need], 1.0))
        mask[need] = True
    return i_out, s_out, mask


class Predictor:
    """A trained ensemble (members, target coding, σ calibration, q grid)."""

    def __init__(self, ckpt: dict[str, Any]) -> None:
        import torch

        from .config import ModelConfig
        from .model import ResNet1D

        self.ckpt = ckpt
        self.classes: list[str] = list(ckpt["classes"])
        self.coder = TargetCoder.from_dict(ckpt["coder"])
        self.calibration = np.asarray(ckpt["calibration"], dtype=np.float64)
        self.coverage = float(ckpt["coverage"])
        self.q = np.asarray(ckpt["q"], dtype=np.float64)
        self.logq = torch.tensor(ckpt["logq"], dtype=torch.float32)
        mcfg = ModelConfig.model_validate(ckpt["model_config"])
        self.members = []
        for st in ckpt["states"]:
            net = ResNet1D(self.q.size, len(self.classes), len(self.coder.slots), mcfg)
            net.load_state_dict(st)
            net.eval()
            self.members.append(net)

    def dataset_config(self) -> Any:
        """The :class:`~hifft.ml.config.DatasetConfig` the model was trained on (priors, grid, precision)."""
        from .config import DatasetConfig

        return DatasetConfig.model_validate_json(self.ckpt["dataset_config"])

    def augment_config(self) -> Any:
        """The :class:`~hifft.ml.config.AugmentConfig` of its training (the q windows it saw)."""
        from .config import AugmentConfig

        return AugmentConfig.model_validate(self.ckpt["train_config"].get("augment", {}))

    # -- inputs ----------------------------------------------------------------
    def _arrays(self, curves: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ds = curves
        if "q" not in ds.dims:
            raise ValueError("curves need a 'q' dimension")
        if ds["I"].ndim == 1:
            ds = ds.expand_dims("sample")
        ds = ds.transpose(..., "q")
        sample = ds["sample"].values if "sample" in ds.coords else np.arange(ds.sizes["sample"])
        q = ds["q"].values.astype(np.float64)
        i = ds["I"].values
        s = ds["sigma"].values
        m = ds["mask"].values if "mask" in ds else np.ones(i.shape, dtype=bool)
        if q.size == self.q.size and np.allclose(q, self.q, rtol=1e-6):
            return i, s, m, sample
        i2 = np.empty((i.shape[0], self.q.size))
        s2 = np.empty_like(i2)
        m2 = np.empty(i2.shape, dtype=bool)
        for k in range(i.shape[0]):
            keep = m[k]
            i2[k], s2[k], m2[k] = regrid(q[keep], i[k][keep], s[k][keep], self.q)
        if not m2.any(axis=1).all():
            raise ValueError(
                f"a curve has no points inside the model's q range [{self.q[0]:.4g}, {self.q[-1]:.4g}] 1/Å"
            )
        return i2, s2, m2, sample

    def inputs(self, curves: Any):
        import torch

        from .model import curve_channels

        i, s, m, sample = self._arrays(curves)
        li, ls, mm = log_curves(i, s, m)
        x = curve_channels(torch.from_numpy(li), torch.from_numpy(ls), torch.from_numpy(mm), self.logq)
        return x, sample

    # -- prediction ------------------------------------------------------------
    def predict(self, curves: Any, batch: int = 4096) -> Any:
        """Predictions for the curves in ``curves`` as an xarray Dataset (see module doc)."""
        import torch
        import xarray as xr
        from scipy.stats import norm

        from .model import ensemble_predict

        x, sample = self.inputs(curves)
        t0 = time.perf_counter()
        with torch.inference_mode():
            probs, mu, var = ensemble_predict(self.members, x, batch)
        dt = time.perf_counter() - t0
        sd = np.sqrt(var) * self.calibration[None, :]
        cmean, cstd = self.coder.fitted()
        t_mu = mu * cstd[None, :] + cmean[None, :]
        t_sd = sd * cstd[None, :]
        zc = norm.ppf(0.5 + self.coverage / 2)
        n, ns = mu.shape
        sv, ss, slo, shi = (np.empty((n, ns)) for _ in range(4))
        for j, (_, p) in enumerate(self.coder.slots):
            sv[:, j] = inverse(p, t_mu[:, j])
            slo[:, j] = inverse(p, t_mu[:, j] - zc * t_sd[:, j])
            shi[:, j] = inverse(p, t_mu[:, j] + zc * t_sd[:, j])
            ss[:, j] = sv[:, j] * t_sd[:, j] if p in S.LENGTHS else t_sd[:, j]
        pred = probs.argmax(1)
        names = np.array(self.classes, dtype=object)[pred]
        npar = len(S.ALL_PARAMS)
        val, std, lo, hi = (np.full((n, npar), np.nan) for _ in range(4))
        slot_index = {s: j for j, s in enumerate(self.coder.slots)}
        for k, c in enumerate(self.classes):
            rows = pred == k
            for a, p in enumerate(S.ALL_PARAMS):
                col = slot_index.get((c, p))
                if col is not None:
                    val[rows, a], std[rows, a] = sv[rows, col], ss[rows, col]
                    lo[rows, a], hi[rows, a] = slo[rows, col], shi[rows, col]
        slot_names = [f"{c}:{p}" for c, p in self.coder.slots]
        ds = xr.Dataset(
            {
                "prob": (("sample", "class"), probs),
                "shape": (("sample",), names.astype(str)),
                "shape_index": (("sample",), pred.astype(np.int8)),
                "value": (("sample", "param"), val),
                "std": (("sample", "param"), std),
                "lower": (("sample", "param"), lo),
                "upper": (("sample", "param"), hi),
                "slot_value": (("sample", "slot"), sv),
                "slot_std": (("sample", "slot"), ss),
                "slot_lower": (("sample", "slot"), slo),
                "slot_upper": (("sample", "slot"), shi),
            },
            coords={
                "sample": sample,
                "class": self.classes,
                "param": list(S.ALL_PARAMS),
                "slot": slot_names,
            },
            attrs={
                "coverage": self.coverage,
                "length_units": "angstrom",
                "ensemble_size": len(self.members),
                "seconds_network": dt,
                "seconds_per_curve": dt / max(1, n),
                "interval": "central interval of the calibrated Gaussian, ln-space for lengths",
            },
        )
        return ds


#: The model shipped with hifft (``make model`` trains it again; its record is beside it).
DEFAULT_MODEL = Path(__file__).parent / "models" / "default.pt"


def load(path: str | os.PathLike[str] | None = None) -> Predictor:
    """Load ``model.pt`` written by :func:`hifft.ml.train.train` (None: the shipped model)."""
    if path is None:
        if not DEFAULT_MODEL.is_file():
            raise FileNotFoundError(f"{DEFAULT_MODEL}: the shipped model is missing; 'make model' trains it")
        path = DEFAULT_MODEL
    p = Path(path)
    if p.is_dir():
        p = p / "model.pt"
    from ..checkpoint import read_checkpoint
    from .train import CHECKPOINT_FORMAT

    return Predictor(read_checkpoint(p, "an hifft ML checkpoint", CHECKPOINT_FORMAT))


#: Checkpoint keys a shipped (exported) model keeps; the rest (history) goes to its JSON record.
_SLIM_KEYS = (
    "format", "hifft_version", "torch_version", "fingerprint", "classes", "coder", "calibration",
    "coverage", "q", "logq", "model_config", "train_config", "dataset_config", "states", "train_seconds",
)


def export(path: str | os.PathLike[str], out: str | os.PathLike[str], command: str = "") -> tuple[Path, Path]:
    """Write the slim checkpoint ``out`` and its record ``out`` with ``.json`` (how it was trained)."""
    import json

    import torch

    from ..atomic import atomic_path, atomic_write

    src = load(path)
    ck = src.ckpt
    slim = {k: ck[k] for k in _SLIM_KEYS if k in ck}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        torch.save(slim, tmp)
    rec = out.with_suffix(".json")
    hist = ck.get("history", [])
    record = {
        "made_by": command,
        "hifft_version": ck.get("hifft_version"),
        "torch_version": ck.get("torch_version"),
        "train_seconds": ck.get("train_seconds"),
        "ensemble_size": len(ck["states"]),
        "parameters_per_member": int(sum(v.numel() for v in ck["states"][0].values())),
        "train_config": ck.get("train_config"),
        "dataset_config": json.loads(ck["dataset_config"]),
        "final_epoch_per_member": list({int(h["member"]): h for h in hist}.values()),
    }
    atomic_write(rec, json.dumps(record, indent=1, default=str))
    return out, rec
