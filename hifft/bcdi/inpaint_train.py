"""Training of a gap-inpainting model (2D or 3D) on simulated patterns, under a wall-clock budget.

- Data: :mod:`hifft.bcdi.inpaint_data` simulates ``n_patterns`` training and ``n_val_patterns``
  validation patterns at the start of every run (a resumed run simulates the same ones again:
  the seeds are fixed), then draws fresh random patches with random gaps at every step.
- Loss (:func:`gap_loss`, seeds 002/004's final 3D loss with weights): MAE over gap voxels +
  (1 − SSIM) over 2D slices (frames, axis 0 of a 3D patch) of the prediction composited into the
  truth + MAE of the finite differences that touch the gap.
- Precision: ``model.precision`` "bfloat16" autocasts the network's convolutions (weights, head and
  loss stay float32), about twice as fast on this machine's CPU (AVX512-BF16).
- Schedule: AdamW; learning rate ``lr · lr_factor(progress)`` (:func:`hifft.ml.train.lr_factor`:
  warm-up then cosine) with progress = max(loop seconds / loop budget, step / max_steps), so a
  run anneals fully within ``minutes`` however busy the machine is. The loop budget is
  ``minutes`` less the simulation time and a 3 % reserve for validation and writing.
- Files in ``out``: ``train.partial.pt`` (every ``checkpoint_minutes``; a rerun with the same
  config resumes from it), then ``model.pt`` (:func:`hifft.bcdi.unet.save_model`) and its record
  ``model.json`` (config, fingerprint, seconds, steps, load average at start and end, threads,
  validation metrics, parameters, file size). A rerun after ``model.pt`` exists does nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._version import __version__
from ..atomic import atomic_path, atomic_write
from ..ml.train import lr_factor
from ..store import fingerprint
from .inpaint import biharmonic_field, line_fill, pearson
from .inpaint_config import InpaintTrainConfig, LossConfig
from .inpaint_data import PatchSampler, simulate_patterns
from .unet import InpaintModel, InpaintUNet, autocast, n_parameters, save_model

Log = Callable[[str], None]
PARTIAL = "train.partial.pt"
MODEL = "model.pt"
RECORD = "model.json"


# ---------------------------------------------------------------------------
# loss
# ---------------------------------------------------------------------------


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Normalised 1D Gaussian of ``size`` taps (SSIM's window, Wang et al. 2004)."""
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim2d(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, size: int = 11,
           sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM per image of (N, 1, H, W) tensors: Gaussian window, valid region only (scikit-image's
    ``structural_similarity(gaussian_weights=True, use_sample_covariance=False)`` convention).
    The window shrinks to the largest odd size that fits a small image."""
    size = min(size, a.shape[-1], a.shape[-2])
    size -= 1 - size % 2
    g = gaussian_window(size, sigma).to(a)
    gy, gx = g.view(1, 1, -1, 1), g.view(1, 1, 1, -1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, gy), gx)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


def _frames(t: torch.Tensor) -> torch.Tensor:
    """(B, 1, Z, Y, X) → (B·Z, 1, Y, X); 2D input unchanged."""
    if t.dim() == 4:
        return t
    b, c, z, y, x = t.shape
    return t.permute(0, 2, 1, 3, 4).reshape(b * z, c, y, x)


def gap_loss(pred: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor,
             weights: LossConfig | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted gap loss and its parts (floats) for (B, 1, *spatial) tensors; ``mask`` bool, True = gap.
    ``weights`` default: 1 each."""
    weights = weights or LossConfig()
    m = mask.to(pred.dtype)
    comp = torch.where(mask, pred, truth)
    mae = ((pred - truth).abs() * m).sum() / m.sum().clamp_min(1.0)
    ssim = 1.0 - ssim2d(_frames(comp), _frames(truth)).mean()
    grad_sum, grad_n = pred.new_zeros(()), pred.new_zeros(())
    for ax in range(2, pred.dim()):
        d = (comp.diff(dim=ax) - truth.diff(dim=ax)).abs()
        touch = torch.logical_or(mask.narrow(ax, 0, mask.shape[ax] - 1), mask.narrow(ax, 1, mask.shape[ax] - 1))
        grad_sum = grad_sum + (d * touch).sum()
        grad_n = grad_n + touch.sum()
    grad = grad_sum / grad_n.clamp_min(1.0)
    loss = weights.mae * mae + weights.ssim * ssim + weights.grad * grad
    return loss, {"mae": float(mae.detach()), "ssim": float(ssim.detach()), "grad": float(grad.detach())}


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------


def predict_batch(net: torch.nn.Module, x: np.ndarray, batch: int = 16, precision: str = "float32") -> np.ndarray:
    """Network output (N, 1, *patch) float32 for inputs (N, C, *patch), no gradients, in eval mode."""
    net.eval()
    with torch.no_grad(), autocast(precision):
        outs = [net(torch.from_numpy(x[s:s + batch])).float().numpy() for s in range(0, len(x), batch)]
    return np.concatenate(outs)


def validate(net: torch.nn.Module, x: np.ndarray, y: np.ndarray, m: np.ndarray, weights: LossConfig,
             baselines: bool = False, precision: str = "float32") -> dict[str, Any]:
    """Validation loss and gap PCC (network units, i.e. of scaled log intensities) of ``net`` on fixed
    patches; with ``baselines`` also of biharmonic interpolation (slice by slice along axis 0) and
    zero fill, and of :func:`~hifft.bcdi.inpaint.line_fill`. PCCs are per patch, then averaged
    (mean and median)."""
    pred = predict_batch(net, x, precision=precision)
    with torch.no_grad():
        loss, parts = gap_loss(torch.from_numpy(pred), torch.from_numpy(y), torch.from_numpy(m), weights)
    out: dict[str, Any] = {"loss": float(loss), **{f"loss_{k}": v for k, v in parts.items()}}
    methods: dict[str, Callable[[int], np.ndarray]] = {"model": lambda i: pred[i, 0]}
    if baselines:
        methods["biharmonic"] = lambda i: biharmonic_field(x[i, 0], m[i, 0], axis=0)
        methods["line"] = lambda i: line_fill(x[i, 0], m[i, 0])
    for name, fill in methods.items():
        pcc = [pearson(fill(i)[m[i, 0]], y[i, 0][m[i, 0]]) for i in range(len(x))]
        vals = [p for p in pcc if p is not None]
        out[f"pcc_log_{name}"] = float(np.mean(vals)) if vals else None
        out[f"pcc_log_{name}_median"] = float(np.median(vals)) if vals else None
    if baselines:
        out["pcc_log_zero"] = None  # a constant fill has no correlation
    return out


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------


def run_fingerprint(cfg: InpaintTrainConfig) -> str:
    """What makes the model: the config less its output place, time budget and threads."""
    return fingerprint(cfg.model_dump(mode="json", exclude={"out", "minutes", "threads", "checkpoint_minutes"}))


def _f4(v: float | None) -> str:
    return "undefined" if v is None else f"{v:.4f}"


def _finished(path: Path, fp: str) -> bool:
    if not path.exists():
        return False
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # unreadable or from elsewhere: train again
        return False
    return isinstance(ck, dict) and ck.get("meta", {}).get("fingerprint") == fp


def train_inpaint(cfg: InpaintTrainConfig, log: Log = print, progress: bool | None = None) -> Path:
    """Train (or resume, or find finished) the model of ``cfg``; returns the path of ``model.pt``."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    threads = cfg.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    fp = run_fingerprint(cfg)
    final, partial = out / MODEL, out / PARTIAL
    if _finished(final, fp):
        log(f"{final}: finished earlier with this config; nothing to do")
        return final
    load_start = os.getloadavg()
    t_run = time.perf_counter()
    atomic_write(out / "train_config.json", cfg.model_dump_json(indent=1))
    train_p = simulate_patterns(cfg.patterns, cfg.n_patterns, cfg.seed, "train", progress=progress)
    val_p = simulate_patterns(cfg.patterns, cfg.n_val_patterns, cfg.seed, "val", progress=progress)
    sim_seconds = time.perf_counter() - t_run
    log(f"simulated {len(train_p)} training and {len(val_p)} validation patterns of {cfg.patterns.size}³ "
        f"in {sim_seconds:.0f} s")
    m = cfg.model
    kw: dict[str, Any] = dict(dims=m.dims, patch=m.patch, margin=m.margin, gaps=cfg.gaps, peak_ref=cfg.peak_ref,
                              target=cfg.target, fill=m.residual)
    sampler = PatchSampler(train_p, **kw)
    xv, yv, mv = PatchSampler(val_p, **kw).sample(np.random.default_rng([cfg.seed, 99]), cfg.val_patches)

    torch.manual_seed(cfg.seed)
    net = InpaintUNet(m.dims, m.widths, m.dilations, in_channels=3 if m.residual else 2, residual=m.residual)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, spent, history = 0, 0.0, []
    prior_sim = sim_seconds
    if partial.exists():
        ck = torch.load(partial, map_location="cpu", weights_only=True)
        if ck.get("fingerprint") == fp:
            net.load_state_dict(ck["state"])
            opt.load_state_dict(ck["opt"])
            step, spent, history = int(ck["step"]), float(ck["seconds"]), list(ck["history"])
            prior_sim = float(ck["sim_seconds"])
            log(f"resuming at step {step} ({spent:.0f} s of training done)")
        else:
            log(f"{partial.name} is from another config; starting again")
    budget = max(1.0, cfg.minutes * 60 * 0.97 - prior_sim)

    t0 = time.perf_counter()

    def progress_now() -> float:
        p = (spent + time.perf_counter() - t0) / budget
        return max(p, step / cfg.max_steps) if cfg.max_steps else p

    def save_partial() -> None:
        with atomic_path(partial) as tmp:
            torch.save({"fingerprint": fp, "state": net.state_dict(), "opt": opt.state_dict(), "step": step,
                        "seconds": spent + time.perf_counter() - t0, "history": history,
                        "sim_seconds": prior_sim}, tmp)

    last_ck = last_log = time.perf_counter()
    acc: dict[str, float] = {"loss": 0.0, "mae": 0.0, "ssim": 0.0, "grad": 0.0}
    n_acc = 0
    net.train()
    while (p := progress_now()) < 1.0:
        rng = np.random.default_rng([cfg.seed, 7, step])
        x, y, mk = (torch.from_numpy(a) for a in sampler.sample(rng, cfg.batch_size))
        for g in opt.param_groups:
            g["lr"] = cfg.lr * lr_factor(p)
        with autocast(m.precision):
            pred = net(x)
        loss, parts = gap_loss(pred.float(), y, mk, cfg.loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        acc["loss"] += float(loss.detach())
        for k, v in parts.items():
            acc[k] += v
        n_acc += 1
        now = time.perf_counter()
        if now - last_log >= 60 or progress_now() >= 1.0:
            rec = {"step": step, "seconds": spent + now - t0, "lr": opt.param_groups[0]["lr"],
                   **{k: v / n_acc for k, v in acc.items()}}
            history.append(rec)
            log(f"step {step}: loss {rec['loss']:.4f} (mae {rec['mae']:.4f}, 1−ssim {rec['ssim']:.4f}, "
                f"grad {rec['grad']:.4f}), lr {rec['lr']:.2e}, {100 * min(1.0, progress_now()):.0f}% of budget")
            acc = dict.fromkeys(acc, 0.0)
            n_acc = 0
            last_log = now
        if now - last_ck >= cfg.checkpoint_minutes * 60:
            save_partial()
            last_ck = now
            log(f"checkpoint at step {step}: {partial}")
    train_seconds = spent + time.perf_counter() - t0
    val = validate(net, xv, yv, mv, cfg.loss, baselines=True, precision=m.precision)
    log(f"validation ({len(xv)} patches): PCC(log) model {_f4(val['pcc_log_model'])}, biharmonic "
        f"{_f4(val['pcc_log_biharmonic'])}, line {_f4(val['pcc_log_line'])}; loss {val['loss']:.4f}")
    stride = m.inference_stride
    meta = {"fingerprint": fp, "config": json.loads(cfg.model_dump_json()), "history": history, "steps": step,
            "hifft_version": __version__}
    model = InpaintModel(net, m.patch, m.margin, stride, cfg.peak_ref, meta, m.precision)
    save_model(final, model)
    record = {
        "format": "hifft.bcdi.inpaint.record/1",
        "model": MODEL,
        "fingerprint": fp,
        "config": json.loads(cfg.model_dump_json()),
        "dims": m.dims,
        "patch": m.patch,
        "margin": m.margin,
        "stride": stride,
        "precision": m.precision,
        "parameters": n_parameters(net),
        "file_bytes": final.stat().st_size,
        "steps": step,
        "patches_seen": step * cfg.batch_size,
        "train_seconds": train_seconds,
        "simulate_seconds": prior_sim,
        "seconds_this_run": time.perf_counter() - t_run,
        "threads": threads,
        "load_average_start": list(load_start),
        "load_average_end": list(os.getloadavg()),
        "validation": val,
        "history": history,
        "hifft_version": __version__,
        "torch_version": str(torch.__version__),
    }
    atomic_write(out / RECORD, json.dumps(record, indent=1))
    partial.unlink(missing_ok=True)
    log(f"wrote {final} ({record['file_bytes'] / 1e6:.1f} MB, {record['parameters']:,} parameters, {step} steps, "
        f"{train_seconds / 60:.1f} min of training)")
    return final


__all__ = ["gaussian_window", "ssim2d", "gap_loss", "predict_batch", "validate", "run_fingerprint",
           "train_inpaint"]
