"""Training a deep ensemble of residual CNNs on an ML curve dataset.

- Each member has its own seed (``seed + member``) and is checkpointed at
  the end of every epoch (``member-<m>.partial.pt``: weights, optimizer,
  schedule, epoch); a rerun resumes the unfinished member and skips
  finished ones (``member-<m>.pt``). Members are checked against a
  fingerprint of the training config and the dataset.
- Augmentation, per batch: the measurement is simulated again from the
  stored noise-free curve ``I_true``: scale and background nuisances,
  pinhole resolution smearing, Poisson noise with a new exposure from the
  dataset's own noise model (so the network never sees the same noise
  twice); then the q window is cut at random and bins are masked (see
  :class:`~hifft.ml.config.AugmentConfig`).
- Loss: cross-entropy on the class plus the Gaussian NLL of the slots of the
  true class.
- After training, the ensemble's variances are calibrated on the validation
  split: per slot, σ is multiplied by the factor that makes the central
  ``coverage`` interval cover exactly that fraction of validation truths.
- The result is one file ``model.pt`` (see :func:`hifft.ml.inference.load`)
  plus ``metrics.json`` (validation metrics and the training history).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..atomic import atomic_path, atomic_write
from ..runner import Outcome, Runner
from ..store import fingerprint
from . import shapes as S
from .config import CLASSES, AugmentConfig, DatasetConfig, NoiseConfig, TrainConfig
from .dataset import open_dataset
from .features import TargetCoder, log_curves
from .model import ResNet1D, curve_channels, ensemble_predict, gaussian_nll
from .noise import bin_widths, counts_per_intensity

CHECKPOINT_FORMAT = "hifft.ml.ensemble/1"
Log = Callable[[str], None]


@dataclass
class Split:
    li: np.ndarray
    ls: np.ndarray
    m: np.ndarray
    i_true: np.ndarray
    background: np.ndarray
    shape: np.ndarray
    labels: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.shape)


def load_split(ds: Any, split: int | None, max_n: int | None = None, with_true: bool = True) -> Split:
    """Curves of one split (0 train, 1 val, 2 test; None: all) as numpy arrays."""
    sel = np.flatnonzero(ds["split"].values == split) if split is not None else np.arange(ds.sizes["sample"])
    if max_n is not None:
        sel = sel[:max_n]
    sub = ds.isel(sample=sel)
    li, ls, m = log_curves(sub["I"].values, sub["sigma"].values, sub["mask"].values)
    i_true = sub["I_true"].values.astype(np.float32) if with_true and "I_true" in sub else np.zeros((0, 0), np.float32)
    labels = {p: sub[p].values.astype(np.float64) for p in S.ALL_PARAMS}
    bg = sub["background"].values.astype(np.float32)
    return Split(li, ls, m, i_true, bg, sub["shape"].values.astype(np.int64), labels)


def standardized_logq(q: np.ndarray) -> np.ndarray:
    lq = np.log10(q)
    return ((lq - lq.mean()) / lq.std()).astype(np.float32)


# ---------------------------------------------------------------------------
# augmentation (torch)
# ---------------------------------------------------------------------------


class Augmenter:
    """The per-batch re-simulation of a measurement (see :class:`~hifft.ml.config.AugmentConfig`)."""

    #: σ_Q/Q levels of the precomputed smearing matrices (log-spaced over the
    #: configured range; a drawn width uses the nearest level)
    SMEAR_LEVELS = 12

    def __init__(self, q: np.ndarray, noise: NoiseConfig, aug: AugmentConfig) -> None:
        self.q = q
        self.noise = noise
        self.aug = aug
        self.p_renoise = aug.renoise
        self.base = torch.as_tensor(counts_per_intensity(q, noise, 1.0), dtype=torch.float64)
        self.dq = bin_widths(q)
        self.lq = torch.as_tensor(np.log(q))
        lo, hi = aug.smear_dq_over_q
        self.smear_widths = np.geomspace(lo, hi, self.SMEAR_LEVELS)
        mats = [smearing_matrix(q, w) for w in self.smear_widths]
        self.smear_w = torch.stack([torch.as_tensor(w) for w, _ in mats])
        self.smear_ok = torch.stack([torch.as_tensor(ok) for _, ok in mats])

    def nuisances(
        self, i_true: torch.Tensor, bg: torch.Tensor, rng: np.random.Generator
    ) -> torch.Tensor:
        """Particle term rescaled and background drawn again on random rows."""
        a = self.aug
        n = i_true.shape[0]
        bg = bg.double()[:, None]
        part = (i_true - bg).clamp_min(0)
        f = np.where(rng.uniform(size=n) < a.p_rescale, _logu(rng, a.rescale, n), 1.0)
        b2 = np.where(rng.uniform(size=n) < a.p_background, _logu(rng, a.background, n), bg[:, 0].numpy())
        return part * torch.as_tensor(f)[:, None] + torch.as_tensor(b2)[:, None]

    def smear(self, i_true: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Pinhole smearing on ``p_smear`` of the rows; mask of the bins whose kernel fits in the grid."""
        n = i_true.shape[0]
        level = rng.integers(0, self.SMEAR_LEVELS, n)
        rows = rng.uniform(size=n) < self.aug.p_smear
        out = i_true.clone()
        ok = torch.ones(i_true.shape, dtype=torch.bool)
        for k in np.unique(level[rows]):
            sel = torch.as_tensor(np.flatnonzero(rows & (level == k)))
            out[sel] = i_true[sel] @ self.smear_w[k].T
            ok[sel] = self.smear_ok[k][None, :]
        return out, ok

    def renoise(
        self, i_true: torch.Tensor, rng: np.random.Generator, gen: torch.Generator, bg: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = i_true.shape[0]
        expo = torch.as_tensor(self.noise.exposure.sample(rng, n))
        k = self.base[None, :] * expo[:, None]
        i_true = i_true.double().clamp_min(0)
        if bg is not None:
            i_true = self.nuisances(i_true, bg, rng)
        i_true, valid = self.smear(i_true, rng)
        s_box = None
        if self.aug.p_speckle > 0:
            i_true, s_box = self.speckle(i_true, rng, gen)
        lam = i_true * k
        if self.noise.poisson:
            cnt = torch.poisson(lam, generator=gen)
        else:
            cnt = lam
        i = cnt / k
        s = torch.sqrt(cnt.clamp_min(1.0)) / k
        if self.noise.multiplicative > 0:
            eps = 1.0 + self.noise.multiplicative * torch.randn(i.shape, generator=gen, dtype=i.dtype)
            i = i * eps
            if self.noise.multiplicative_in_sigma:
                s = torch.hypot(s, self.noise.multiplicative * i.abs())
        if s_box is not None:
            s = torch.hypot(s, s_box)
        s_safe = s.clamp_min(1e-30)
        li = torch.log10(torch.maximum(i, s_safe / 10))
        ls = torch.minimum(torch.log10(s_safe), li + 1.0)
        return li.float(), ls.float(), valid

    def speckle(
        self, i_true: torch.Tensor, rng: np.random.Generator, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Finite-ensemble noise on a random ``p_speckle`` of the rows (see AugmentConfig)."""
        n = i_true.shape[0]
        a = self.aug
        rows = rng.uniform(size=n) < a.p_speckle
        box = np.exp(rng.uniform(math.log(a.speckle_box[0]), math.log(a.speckle_box[1]), n))
        reps = rng.integers(a.speckle_realizations[0], a.speckle_realizations[1] + 1, n)
        modes = reps[:, None] * (box[:, None] / (2 * np.pi)) ** 3 * 2 * np.pi * self.q**2 * self.dq
        modes = np.where(rows[:, None], np.maximum(modes, 1.0), np.inf)
        conc = torch.as_tensor(np.minimum(modes, 1e12))
        g = torch.distributions.Gamma(conc, conc)
        # torch's Gamma has no generator argument: draw from a seeded state
        state = torch.get_rng_state()
        torch.manual_seed(int(rng.integers(2**62)))
        factor = torch.where(torch.as_tensor(rows)[:, None], g.sample(), torch.ones_like(conc))
        torch.set_rng_state(state)
        out = i_true * factor
        s_box = torch.where(torch.as_tensor(rows)[:, None], out / torch.sqrt(conc), torch.zeros_like(out))
        return out, s_box

    def truncate(self, m: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        n = m.shape[0]
        a = self.aug
        lq = self.lq
        lo = torch.full((n,), -math.inf, dtype=torch.float64)
        hi = torch.full((n,), math.inf, dtype=torch.float64)
        q0, q1 = float(self.q[0]), float(self.q[-1])
        if a.p_truncate_low > 0 and a.max_q_min > q0:
            sel = torch.as_tensor(rng.uniform(size=n) < a.p_truncate_low)
            cut = torch.as_tensor(rng.uniform(math.log(q0), math.log(min(a.max_q_min, q1)), n))
            lo = torch.where(sel, cut, lo)
        if a.p_truncate_high > 0 and a.min_q_max < q1:
            sel = torch.as_tensor(rng.uniform(size=n) < a.p_truncate_high)
            cut = torch.as_tensor(rng.uniform(math.log(max(a.min_q_max, q0)), math.log(q1), n))
            hi = torch.where(sel, cut, hi)
        keep = (lq[None, :] >= lo[:, None]) & (lq[None, :] <= hi[:, None])
        if a.p_dead_bins > 0 and a.dead_fraction > 0:
            rows = torch.as_tensor(rng.uniform(size=n) < a.p_dead_bins)
            frac = torch.as_tensor(rng.uniform(0, a.dead_fraction, n))
            dead = torch.as_tensor(rng.uniform(size=keep.shape)) < frac[:, None]
            keep &= ~(dead & rows[:, None])
        # never leave fewer than 16 points
        few = keep.sum(1) < 16
        keep[few] = True
        return m & keep


# ---------------------------------------------------------------------------
# one member
# ---------------------------------------------------------------------------


def _logu(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]), n))


def smearing_matrix(q: np.ndarray, rel: float, min_weight: float = 0.99) -> tuple[np.ndarray, np.ndarray]:
    """Pinhole resolution of relative width ``rel`` = σ_Q/Q as a matrix on the grid ``q``.

    Row i holds the weights of the Gaussian R(q'; q_i, rel·q_i) times the bin
    widths dq', normalised over the grid; ``ok[i]`` is False where less than
    ``min_weight`` of the kernel lies inside the grid (those bins are masked:
    the true curve beyond the grid is unknown). On the default 256-bin log
    grid a bin spans 2.2 % in q, so the narrowest width (2 %) is sampled at
    about one bin per σ: coarse, but the sum is normalised. Against
    sasmodels' Pinhole1D on its fine grid the median difference is 0.03-0.5 %
    (σ_Q/Q = 3-15 %), up to ~8 % (10 %) at the deepest form-factor minimum,
    which the grid samples with a few bins, and ~5 % in the far tail at
    15 % (tests/ml/test_refine.py). Good enough to teach the network what
    smearing looks like; refinement smears with sasmodels itself.
    """
    dq = bin_widths(q)
    z = (q[None, :] - q[:, None]) / (rel * q[:, None])
    w = np.exp(-0.5 * z**2) * dq[None, :] / (math.sqrt(2 * math.pi) * rel * q[:, None])
    tot = w.sum(1)
    return w / tot[:, None], tot >= min_weight


def lr_factor(progress: float, warmup: float = 0.03) -> float:
    """Linear warm-up over the first ``warmup`` of training, then cosine to zero."""
    if progress < warmup:
        return max(progress / warmup, 0.02)
    p = (progress - warmup) / (1 - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


def _set_seed(seed: int) -> None:
    torch.manual_seed(seed)


def _val_inputs(val: Split, logq: torch.Tensor) -> torch.Tensor:
    return curve_channels(torch.from_numpy(val.li), torch.from_numpy(val.ls), torch.from_numpy(val.m), logq)


def evaluate_member(
    net: ResNet1D, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, shape: torch.Tensor
) -> dict[str, float]:
    net.eval()
    losses, correct, nll = [], 0, []
    with torch.no_grad():
        for s in range(0, x.shape[0], 2048):
            lg, mu, lv = net(x[s : s + 2048])
            ce = torch.nn.functional.cross_entropy(lg, shape[s : s + 2048], reduction="sum")
            losses.append(float(ce))
            nll.append(float(gaussian_nll(mu, lv, y[s : s + 2048], w[s : s + 2048])) * lg.shape[0])
            correct += int((lg.argmax(1) == shape[s : s + 2048]).sum())
    n = x.shape[0]
    return {"val_ce": sum(losses) / n, "val_nll": sum(nll) / n, "val_acc": correct / n}


def train_member(
    m: int,
    cfg: TrainConfig,
    train: Split,
    val: Split,
    coder: TargetCoder,
    aug: Augmenter,
    logq: np.ndarray,
    fp: str,
    budget_s: float | None,
    log: Log,
) -> tuple[ResNet1D, list[dict[str, Any]]]:
    """Train (or resume) ensemble member ``m``; returns the net and its history.

    The learning rate follows warm-up + cosine in the *progress* ``max(step /
    total_steps, seconds / budget_s)``, so a member under a time budget still
    anneals fully and stops when progress reaches 1, however busy the
    machine is (the number of steps then depends on the machine's speed).
    """
    out = Path(cfg.out)
    final = out / f"member-{m}.pt"
    partial = out / f"member-{m}.partial.pt"
    nq = train.li.shape[1]
    _set_seed(cfg.seed * 1000 + m)
    net = ResNet1D(nq, len(CLASSES), len(coder.slots), cfg.model)
    if final.exists():
        ck = torch.load(final, map_location="cpu", weights_only=True)
        if ck.get("fingerprint") == fp:
            net.load_state_dict(ck["state"])
            log(f"member {m}: finished earlier, loaded {final.name}")
            return net, ck["history"]
        log(f"member {m}: {final.name} is from another config or dataset; training again")
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(train)
    steps_per_epoch = max(1, n // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    history: list[dict[str, Any]] = []
    start_epoch, step, spent = 0, 0, 0.0
    if partial.exists():
        ck = torch.load(partial, map_location="cpu", weights_only=True)
        if ck.get("fingerprint") == fp:
            net.load_state_dict(ck["state"])
            opt.load_state_dict(ck["opt"])
            history, step, spent = ck["history"], ck["step"], ck["seconds"]
            start_epoch = ck["epoch"] + 1
            log(f"member {m}: resuming after epoch {start_epoch} (step {step}, {spent:.0f} s)")

    y_all, w_all = coder.encode(train.shape, train.labels)
    y_all_t, w_all_t = torch.from_numpy(y_all), torch.from_numpy(w_all)
    li_t, ls_t, m_t = (
        torch.from_numpy(train.li),
        torch.from_numpy(train.ls),
        torch.from_numpy(train.m),
    )
    itrue_t = torch.from_numpy(train.i_true) if train.i_true.size else None
    bg_t = torch.from_numpy(train.background)
    shape_t = torch.from_numpy(train.shape)
    logq_t = torch.from_numpy(logq)
    yv, wv = coder.encode(val.shape, val.labels)
    xv = _val_inputs(val, logq_t)
    yv_t, wv_t, sv_t = torch.from_numpy(yv), torch.from_numpy(wv), torch.from_numpy(val.shape)

    def progress() -> float:
        p = step / total
        if budget_s is not None:
            p = max(p, (spent + time.perf_counter() - t0) / budget_s)
        return p

    t0 = time.perf_counter()
    done = progress() >= 1.0
    for epoch in range(start_epoch, cfg.epochs):
        if done:
            break
        rng = np.random.default_rng([cfg.seed, m, epoch])
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        perm = torch.from_numpy(rng.permutation(n))
        net.train()
        tl, tc, tn, nb = 0.0, 0.0, 0.0, 0
        te = time.perf_counter()
        for b in range(steps_per_epoch):
            p = progress()
            if p >= 1.0:
                done = True
                break
            for g in opt.param_groups:
                g["lr"] = cfg.lr * lr_factor(p)
            idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            if itrue_t is not None and aug.p_renoise > 0:
                li, ls, mm = aug.renoise(itrue_t[idx], rng, gen, bg_t[idx])
                keep = torch.as_tensor(rng.uniform(size=len(idx)) >= aug.p_renoise)
                li = torch.where(keep[:, None], li_t[idx], li)
                ls = torch.where(keep[:, None], ls_t[idx], ls)
                mm = torch.where(keep[:, None], m_t[idx], mm)
            else:
                li, ls, mm = li_t[idx], ls_t[idx], m_t[idx]
            mm = aug.truncate(mm, rng)
            x = curve_channels(li, ls, mm, logq_t)
            lg, mu, lv = net(x)
            ce = torch.nn.functional.cross_entropy(lg, shape_t[idx])
            nll = gaussian_nll(mu, lv, y_all_t[idx], w_all_t[idx])
            loss = ce + cfg.regression_weight * nll
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            step += 1
            tl += float(loss.detach())
            tc += float(ce.detach())
            tn += float(nll.detach())
            nb += 1
        if nb == 0:
            break
        rec = {
            "member": m,
            "epoch": epoch,
            "loss": tl / nb,
            "ce": tc / nb,
            "nll": tn / nb,
            "lr": opt.param_groups[0]["lr"],
            "seconds": time.perf_counter() - te,
            "steps": nb,
            "progress": min(1.0, progress()),
        }
        rec.update(evaluate_member(net, xv, yv_t, wv_t, sv_t))
        history.append(rec)
        log(
            f"member {m} epoch {epoch + 1}/{cfg.epochs}: loss {rec['loss']:.3f} "
            f"(ce {rec['ce']:.3f}, nll {rec['nll']:.3f})"
            f" | val ce {rec['val_ce']:.3f} nll {rec['val_nll']:.3f} acc {rec['val_acc']:.4f}"
            f" | {rec['seconds']:.0f} s, {100 * rec['progress']:.0f}% done"
        )
        with atomic_path(partial) as tmp:  # a kill mid-save leaves the previous epoch's checkpoint
            torch.save(
                {
                    "fingerprint": fp,
                    "state": net.state_dict(),
                    "opt": opt.state_dict(),
                    "history": history,
                    "epoch": epoch,
                    "step": step,
                    "seconds": spent + time.perf_counter() - t0,
                },
                tmp,
            )
        if done:
            log(f"member {m}: time budget reached in epoch {epoch + 1} (learning rate annealed)")
    with atomic_path(final) as tmp:
        torch.save({"fingerprint": fp, "state": net.state_dict(), "history": history}, tmp)
    partial.unlink(missing_ok=True)
    return net, history


# ---------------------------------------------------------------------------
# calibration and the whole run
# ---------------------------------------------------------------------------


def calibrate(mu: np.ndarray, var: np.ndarray, y: np.ndarray, w: np.ndarray, coverage: float) -> np.ndarray:
    """Per-slot factor on σ making the central ``coverage`` interval cover that
    fraction of the validation truths (1 where a slot has < 20 samples)."""
    from scipy.stats import norm

    zc = norm.ppf(0.5 + coverage / 2)
    f = np.ones(mu.shape[1])
    for j in range(mu.shape[1]):
        sel = w[:, j]
        if sel.sum() >= 20:
            z = np.abs(y[sel, j] - mu[sel, j]) / np.sqrt(var[sel, j])
            f[j] = float(np.quantile(z, coverage) / zc)
    return f


def run_fingerprint(cfg: TrainConfig, ds: Any) -> str:
    spec = cfg.model_dump(mode="json", exclude={"out", "time_budget_s", "threads", "workers"})
    spec["dataset"] = ds.attrs.get("config")
    return fingerprint(spec)


@dataclass
class _Data:
    train: Split
    val: Split
    coder: TargetCoder
    logq: np.ndarray
    aug: Augmenter
    q: np.ndarray
    ds: Any


def _load_data(cfg: TrainConfig) -> _Data:
    ds = open_dataset(cfg.dataset)
    dcfg = DatasetConfig.model_validate_json(ds.attrs["config"])
    q = ds["q"].values
    train_s = load_split(ds, 0, cfg.max_train_samples)
    val_s = load_split(ds, 1)
    if len(train_s) < cfg.batch_size or len(val_s) == 0:
        raise ValueError(
            f"{cfg.dataset}: {len(train_s)} training and {len(val_s)} validation curves; need "
            f"batch_size={cfg.batch_size} and one"
        )
    coder = TargetCoder().fit(train_s.shape, train_s.labels)
    return _Data(train_s, val_s, coder, standardized_logq(q), Augmenter(q, dcfg.noise, cfg.augment), q, ds)


@dataclass(frozen=True)
class MemberTask:
    """One ensemble member to train in a worker: config (JSON), run fingerprint, time budget (s)."""

    member: int
    cfg_json: str
    fingerprint: str
    budget_s: float | None

    @property
    def name(self) -> str:
        return f"member-{self.member}"


def train_member_task(task: MemberTask) -> Outcome:
    """Runner task: train (or resume) one member in this process, logging to ``member-<m>.log``."""
    cfg = TrainConfig.model_validate_json(task.cfg_json)
    torch.set_num_threads(cfg.threads or 1)
    m = task.member
    logf = Path(cfg.out) / f"member-{m}.log"
    with logf.open("a") as fh:

        def log(s: str) -> None:
            fh.write(s + "\n")
            fh.flush()

        d = _load_data(cfg)
        train_member(m, cfg, d.train, d.val, d.coder, d.aug, d.logq, task.fingerprint, task.budget_s, log)
    return Outcome(value=str(Path(cfg.out) / f"member-{m}.pt"))


def _warm_imports() -> None:
    import xarray  # noqa: F401
    import zarr  # noqa: F401

    from . import dataset, model  # noqa: F401


def _train_parallel(cfg: TrainConfig, members: list[int], fp: str, budget: float | None, log: Log) -> None:
    """Members as runner tasks on ``cfg.workers`` single-threaded processes; their logs relayed."""
    from ..cluster import get_client

    out = Path(cfg.out)
    pos = dict.fromkeys(members, 0)
    for m in members:
        (out / f"member-{m}.log").unlink(missing_ok=True)

    def relay() -> None:
        for m in members:
            f = out / f"member-{m}.log"
            if f.exists():
                text = f.read_text()
                new = text[pos[m] :]
                cut = new.rfind("\n") + 1
                for line in new[:cut].splitlines():
                    log(line)
                pos[m] += cut

    stop = threading.Event()

    def relay_until_stopped() -> None:
        while not stop.wait(2.0):
            relay()

    tasks = [MemberTask(m, cfg.model_dump_json(), fp, budget) for m in members]
    with get_client(n_workers=cfg.workers, threads_per_worker=1) as client:
        # import the heavy modules once per worker before any task arrives:
        # unpickling a task on the worker's event-loop thread while the task
        # thread imports zarr races into a half-initialized zarr module
        client.run(_warm_imports)
        relayer = threading.Thread(target=relay_until_stopped, name="hifft-member-logs", daemon=True)
        relayer.start()
        try:
            # the members' own epoch lines are the progress report: no bar
            Runner(client, progress=False).map(train_member_task, tasks, desc="ensemble members")
        finally:
            stop.set()
            relayer.join()
            relay()


def train(cfg: TrainConfig, log: Log = print) -> Path:
    """Train (or resume) the ensemble described by ``cfg``; return the path of ``model.pt``.

    With ``workers > 1`` the members are trained in parallel as Dask tasks,
    one single-threaded process each (on a shared machine this beats one
    process with several threads, which spin while waiting for each other).
    ``time_budget_s`` covers everything; each member gets an equal share of
    what is left after loading, per round of ``workers`` members.
    """
    torch.set_num_threads(cfg.threads or 1)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    d = _load_data(cfg)
    log(f"dataset {cfg.dataset}: {len(d.train)} train, {len(d.val)} val curves, {d.q.size} q points")
    fp = run_fingerprint(cfg, d.ds)
    atomic_write(out / "train_config.json", cfg.model_dump_json(indent=1))
    # members already finished are loaded, not trained
    pending = [m for m in range(cfg.ensemble) if not _finished(out, m, fp)]
    reserve = 60.0  # calibration and writing the checkpoint
    if cfg.workers > 1 and len(pending) > 1:
        rounds = -(-len(pending) // cfg.workers)
        budget = None
        if cfg.time_budget_s is not None:
            left = cfg.time_budget_s - (time.perf_counter() - t_start) - reserve - 30.0 * rounds
            budget = max(10.0, left / rounds)
        log(
            f"training members {pending} on {cfg.workers} worker processes"
            + (f", {budget:.0f} s each" if budget else "")
        )
        _train_parallel(cfg, pending, fp, budget, log)
    members, history = [], []
    for m in range(cfg.ensemble):
        budget = None
        if cfg.time_budget_s is not None and not _finished(out, m, fp):
            left = cfg.time_budget_s - (time.perf_counter() - t_start) - reserve
            budget = max(10.0, left / sum(not _finished(out, k, fp) for k in range(m, cfg.ensemble)))
        net, h = train_member(m, cfg, d.train, d.val, d.coder, d.aug, d.logq, fp, budget, log)
        members.append(net)
        history += h
    # calibration on the validation split
    xv = _val_inputs(d.val, torch.from_numpy(d.logq))
    probs, mu, var = ensemble_predict(members, xv)
    yv, wv = d.coder.encode(d.val.shape, d.val.labels)
    calib = calibrate(mu, var, yv, wv, 0.9)
    seconds = time.perf_counter() - t_start
    acc = float((probs.argmax(1) == d.val.shape).mean())
    log(f"ensemble of {len(members)}: val accuracy {acc:.4f}; σ calibration factors {np.round(calib, 2).tolist()}")
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "hifft_version": __version__,
        "torch_version": str(torch.__version__),
        "fingerprint": fp,
        "classes": list(CLASSES),
        "coder": d.coder.to_dict(),
        "calibration": calib.tolist(),
        "coverage": 0.9,
        "q": d.q.tolist(),
        "logq": d.logq.tolist(),
        "model_config": cfg.model.model_dump(),
        "train_config": json.loads(cfg.model_dump_json()),
        "dataset_config": d.ds.attrs["config"],
        "states": [net.state_dict() for net in members],
        "history": history,
        "train_seconds": seconds,
    }
    path = out / "model.pt"
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    metrics = {
        "val_accuracy": acc,
        "calibration": calib.tolist(),
        "train_seconds": seconds,
        "history": history,
    }
    atomic_write(out / "metrics.json", json.dumps(metrics, indent=1))
    log(f"wrote {path} ({seconds:.0f} s)")
    return path


def _finished(out: Path, m: int, fp: str) -> bool:
    f = out / f"member-{m}.pt"
    if not f.exists():
        return False
    try:
        return torch.load(f, map_location="cpu", weights_only=True).get("fingerprint") == fp
    except Exception:  # unreadable (not written by this code, or damaged): train again
        return False
