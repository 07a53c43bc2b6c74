"""Rate–distortion training of an image codec under a wall-clock budget, resumable.

Loss per batch: λ·D + R, with R the estimated bits per pixel (Σ −log2 p of the noisy
latents / pixels) and D the MSE or 1 − MS-SSIM between the decoded and the clean
normalised log images; an MS-SSIM training starts with ``warmup_steps`` of MSE alone
(MS-SSIM has no gradient until the output correlates with the target).
The denoising route (``train.augment``) feeds the model
intensities with fresh Poisson noise at a log-uniform flux and gaps (the
dataset's own or module gaps at random offsets), with the mask channel, and keeps
the clean image as the target.

Files in ``train.out``:

- ``checkpoint.pt``: weights, optimiser, step, seconds spent, RNG states, history,
  written every ``checkpoint_s`` and at the end; a rerun of the same configuration on
  the same dataset resumes it (another configuration starts anew). ``minutes`` is the
  budget of all runs together.
- ``model.pt``: the codec (:mod:`hifft.images.bundle`), with ``model.json`` beside it:
  configuration, seconds, steps, load averages, validation metrics (bpp measured
  from bytes and estimated, PSNR and MS-SSIM on the normalised log image, max error
  on log10 intensity) and the loss history.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..atomic import atomic_path, atomic_write
from ..store import Manifest, fingerprint
from .bundle import CodecBundle, make_bundle, save_bundle
from .codecs import ImageCodec, build_model
from .config import AugmentConfig, ImagesConfig
from .data import ImageSet, load_images, poisson_intensity, random_gaps
from .entropy import compress, estimate_bits
from .metrics import MS_SSIM_MIN_SIDE, max_abs_error, ms_ssim, ms_ssim_loss, psnr
from .preprocess import LogScale, masked_input

Log = Callable[[str], None]
CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
RECORD = "model.json"
CHECKPOINT_FORMAT = "hifft.images.checkpoint/1"


def noisy_batch(images: ImageSet, idx: np.ndarray, scale: LogScale, aug: AugmentConfig, mask_channel: bool,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(model input (B, C, H, W), clean target (B, 1, H, W), mask (B, H, W)) for images ``idx``.

    Without ``aug.flux`` and gaps the input is the clean image itself.
    """
    clean = images.intensity[idx]
    target = scale.normalise(clean)
    inp = target
    if aug.flux is not None:
        flux = np.exp(rng.uniform(np.log(aug.flux.low), np.log(aug.flux.high), len(idx)))
        inp = scale.normalise(poisson_intensity(clean, images.per_photon, flux, rng))
    shape = clean.shape[1:]
    if aug.gaps == "dataset":
        mask = images.mask[idx].copy()
    elif aug.gaps == "random":
        mask = random_gaps(shape, len(idx), aug.module, aug.gap, rng)
    else:
        mask = np.ones(clean.shape, dtype=bool)
    if aug.dead_fraction > 0:
        mask &= rng.random(clean.shape) >= aug.dead_fraction
    return masked_input(inp, mask, mask_channel), target[:, None], mask


def run_fingerprint(cfg: ImagesConfig, dataset_fp: str) -> str:
    """What a checkpoint must share with a run to be resumed: model, data, loss, augmentation, seed."""
    spec = cfg.model_dump(mode="json", exclude={"train": {"out", "minutes", "threads", "checkpoint_s",
                                                          "max_steps"}})
    return fingerprint({"spec": spec, "dataset": dataset_fp})


def _dataset_fingerprint(path: Path) -> str:
    job = Manifest(path).job()
    return str(job.get("fingerprint")) if job else fingerprint(str(path))


def _distortion(kind: str, x_hat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if kind == "mse":
        return torch.mean((x_hat - target) ** 2)
    return ms_ssim_loss(x_hat, target)


def _load_checkpoint(path: Path, fp: str, model: ImageCodec, opt: torch.optim.Optimizer,
                     log: Log) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged checkpoint: start anew rather than fail
        log(f"{path}: unreadable checkpoint ({exc.__class__.__name__}); starting anew")
        return None
    if ck.get("format") != CHECKPOINT_FORMAT or ck.get("fingerprint") != fp:
        log(f"{path}: checkpoint of another configuration or dataset (fingerprint {ck.get('fingerprint')}, "
            f"this run {fp}); starting anew")
        return None
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    torch.set_rng_state(ck["torch_rng"])
    return ck


def _save_checkpoint(path: Path, fp: str, model: ImageCodec, opt: torch.optim.Optimizer, step: int,
                     seconds: float, rng: np.random.Generator, history: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, "fingerprint": fp, "model": model.state_dict(),
                    "optimizer": opt.state_dict(), "step": step, "seconds": seconds,
                    "torch_rng": torch.get_rng_state(), "numpy_rng": json.dumps(rng.bit_generator.state),
                    "history": json.dumps(history)}, tmp)


def evaluate(bundle: CodecBundle, x: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None,
             ) -> dict[str, float]:
    """Mean metrics of ``bundle`` on model inputs ``x`` against clean normalised ``target`` (N, H, W):
    bpp from bytes and estimated, PSNR (dB) and MS-SSIM on the normalised log image, max |error| on
    log10(I + ε); with a ``mask``, the RMSE on missing pixels too."""
    from .entropy import decompress

    frames = compress(bundle, x)
    pixels = target.shape[-1] * target.shape[-2]
    dec = decompress(bundle, b"".join(frames))
    sc = bundle.scale
    out = {
        "bpp": float(np.mean([8 * len(f) / pixels for f in frames])),
        "bpp_estimated": float(np.mean(estimate_bits(bundle, x)) / pixels),
        "psnr_log": float(np.mean(psnr(target, dec))),
        "max_abs_error_log10": float(np.max(max_abs_error(sc.log10_intensity(target), sc.log10_intensity(dec)))),
        "images": len(target),
    }
    if min(target.shape[-2:]) >= MS_SSIM_MIN_SIDE:
        out["ms_ssim"] = float(np.mean(ms_ssim(target, dec)))
    if mask is not None and not mask.all():
        from .metrics import masked_rmse

        out["rmse_missing"] = float(np.nanmean(masked_rmse(target, dec, ~mask)))
    return out


def train(cfg: ImagesConfig, log: Log = print) -> Path:
    """Train (or resume) the codec of ``cfg``; return the path of ``model.pt``."""
    t = cfg.train
    torch.set_num_threads(t.threads)
    out = Path(t.out)
    out.mkdir(parents=True, exist_ok=True)
    load_start = list(os.getloadavg())
    d = cfg.data
    tr = load_images(d.dataset, "train", d.size, d.crop, d.max_train)
    va = load_images(d.dataset, "val", d.size, d.crop, d.max_val)
    scale = LogScale.fit(tr.intensity, decades=cfg.preprocess.decades, epsilon=cfg.preprocess.epsilon,
                         size=d.size, crop=d.crop)
    fp = run_fingerprint(cfg, _dataset_fingerprint(d.dataset))
    log(f"{d.dataset}: {len(tr)} train, {len(va)} val images of {d.size[0]}×{d.size[1]} at {list(d.crop)}; "
        f"ε = {scale.epsilon:.3g}, log10 range [{scale.lo:.2f}, {scale.hi:.2f}]")
    torch.manual_seed(t.seed)
    mc = cfg.model
    model = build_model(mc.kind, mc.n, mc.m, 2 if mc.mask_channel else 1)
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    rng = np.random.default_rng(t.seed)
    step, spent, history = 0, 0.0, []
    ck = _load_checkpoint(out / CHECKPOINT, fp, model, opt, log)
    if ck is not None:
        step, spent, history = int(ck["step"]), float(ck["seconds"]), json.loads(ck["history"])
        rng.bit_generator.state = json.loads(ck["numpy_rng"])
        log(f"resumed at step {step} after {spent:.0f} s")
    budget = 60.0 * t.minutes
    t0 = time.perf_counter()
    last_ck = last_log = t0
    pixels = d.size[0] * d.size[1]
    model.train()

    def progress() -> float:
        p = (spent + time.perf_counter() - t0) / budget
        return max(p, step / t.max_steps) if t.max_steps else p

    while progress() < 1.0:
        idx = rng.integers(0, len(tr), t.batch_size)
        x, target, _ = noisy_batch(tr, idx, scale, t.augment, mc.mask_channel, rng)
        res = model(torch.from_numpy(x))
        rate = model.bits(res["likelihoods"]).mean() / pixels
        warm = t.distortion == "ms_ssim" and step < t.warmup_steps
        dist = _distortion("mse" if warm else t.distortion, res["x_hat"], torch.from_numpy(target))
        loss = dist if warm else t.lmbda * dist + rate
        for g in opt.param_groups:  # the last fifth of the budget at a tenth of the rate
            g["lr"] = t.lr * (0.1 if progress() > 0.8 else 1.0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.clip_grad)
        opt.step()
        step += 1
        now = time.perf_counter()
        if now - last_log > 30 or step == 1:
            history.append({"step": step, "seconds": round(spent + now - t0, 2), "loss": loss.item(),
                            "bpp_estimated": rate.item(), "distortion": dist.item()})
            log(f"step {step}: loss {loss.item():.4f}, bpp {rate.item():.4f}, "
                f"{'mse (warm-up)' if warm else t.distortion} {dist.item():.4f}")
            last_log = now
        if now - last_ck > t.checkpoint_s:
            _save_checkpoint(out / CHECKPOINT, fp, model, opt, step, spent + now - t0, rng, history)
            last_ck = now
    seconds = spent + time.perf_counter() - t0
    _save_checkpoint(out / CHECKPOINT, fp, model, opt, step, seconds, rng, history)
    record: dict[str, Any] = {
        "format": "hifft.images.train/1", "hifft_version": __version__, "torch_version": str(torch.__version__),
        "config": json.loads(cfg.model_dump_json()), "fingerprint": fp, "dataset": str(d.dataset),
        "train_images": len(tr), "val_images": len(va), "steps": step, "seconds": round(seconds, 2),
        "load_average_start": load_start, "load_average_end": list(os.getloadavg()),
        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
        "scale": scale.to_dict(), "history": history,
    }
    bundle = make_bundle(model, scale, mc.name, record)
    vrng = np.random.default_rng(t.seed + 1)  # the same noisy validation inputs for every run
    xv, tv, mv = noisy_batch(va, np.arange(len(va)), scale, t.augment, mc.mask_channel, vrng)
    record["val"] = evaluate(bundle, xv, tv[:, 0], mv)
    record["model_version"] = bundle.version
    bundle.record = record
    path = save_bundle(bundle, out / MODEL)
    atomic_write(out / RECORD, json.dumps(record, indent=1))
    v = record["val"]
    log(f"wrote {path} (version {bundle.version}): {step} steps in {seconds:.0f} s; val bpp {v['bpp']:.4f} "
        f"(estimated {v['bpp_estimated']:.4f}), PSNR {v['psnr_log']:.2f} dB"
        + (f", MS-SSIM {v['ms_ssim']:.4f}" if "ms_ssim" in v else ""))
    return path


__all__ = ["CHECKPOINT", "MODEL", "RECORD", "evaluate", "noisy_batch", "run_fingerprint", "train"]
