"""Training the droplet-image classifier and predicting with it (torch).

Training (:func:`train`, ``hifft diffraction train CONFIG``):

- the train (split 0) and validation (split 1) images of a diffraction
  dataset store are loaded into memory as float32 (for ``input: ccf`` their
  CCF maps instead, :mod:`.ccf`); a wrong image size or a non-finite pixel
  is refused, naming the store and the sample;
- inputs are divided by a fixed ``input_scale`` (model config, or the median
  over the training inputs of their per-input mean), stored with the model;
- per batch, random horizontal/vertical flips (and transposes with
  ``augment.rot90``) of the images; CCF maps are invariant to them;
  ``augment.noise`` adds uniform noise to half the images (for CCF input,
  to the images, whose maps are then computed per batch);
- BCE with logits (``pos_weight``), AdamW, warm-up + cosine learning rate in
  the progress max(step / total steps, elapsed / budget)
  (:func:`hifft.ml.train.lr_factor`), so the schedule anneals within
  ``minutes`` however busy the machine is;
- seeded (``seed``: weights, batch order, flips); a checkpoint
  ``checkpoint.pt`` after every epoch; a rerun of the same job resumes
  there (or returns at once when ``model.pt`` is finished);
- with ``keep_best``, the weights of the epoch of lowest validation loss
  are kept (``selected_epoch`` in the record; 0-based), else the last;
- at the end, per-label thresholds on the logits maximising F1 on the
  validation split (:func:`~hifft.diffraction.metrics.best_thresholds`),
  stored in ``model.pt``; the record ``model.json`` beside it holds the
  config, the dataset's path and fingerprint, epochs, wall seconds, the load
  average at the start, training images/s and the validation metrics.

Prediction (:func:`load`, :class:`Classifier`): images (n, rows, cols) in
detector units → logits, probabilities, labels thresholded per label, and
labels after :func:`~hifft.diffraction.labels.enforce_hierarchy` (conflicts
settled by the margin logit − threshold). The network divides by its
fixed ``input_scale``, so images from elsewhere (hifft's Ewald-sphere
images in 1/cm, measured frames) must be brought to the training images'
detector units first (the log activation tolerates a scale error better
than LeakyReLU, but neither is trained for it).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..atomic import atomic_path, atomic_write
from ..checkpoint import read_checkpoint
from ..store import Manifest, fingerprint
from .ccf import CCF
from .config import CCFConfig, ClassifierConfig, ClassifierModelConfig, ClassifierTrainConfig
from .images import ImageError, check_images
from .labels import LABELS, enforce_hierarchy
from .metrics import best_thresholds, score_metrics
from .model import PreActResNet18, n_parameters

CHECKPOINT_FORMAT = "hifft.diffraction.classifier/1"
ENSEMBLE_FORMAT = "hifft.diffraction.ensemble/1"
Log = Callable[[str], None]


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


@dataclass
class Split:
    """Inputs of one split: ``x`` (n, H, W) float32 (images or CCF maps), ``y`` bool (n, 11), ``sample`` ids."""

    x: np.ndarray
    y: np.ndarray
    sample: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


def read_split(ds: Any, split: int | None, source: str, max_n: int | None = None,
               ccf: CCF | None = None, block: int = 500) -> tuple[Split, np.ndarray | None]:
    """Inputs of one split (0 train, 1 val, 2 test; None: all) of a dataset, read in blocks.

    Returns the split (CCF maps when ``ccf`` is given) and, for ``ccf``
    None, the same images (else None). Non-finite pixels are an
    :class:`ImageError` naming ``source`` and the sample.
    """
    codes = ds["split"].values
    sel = np.flatnonzero(codes == split) if split is not None else np.arange(codes.size)
    if max_n is not None:
        sel = sel[:max_n]
    samples = ds["sample"].values[sel] if "sample" in ds.coords else sel
    rows, cols = int(ds.sizes["row"]), int(ds.sizes["col"])
    out_shape = ccf.map_shape if ccf is not None else (rows, cols)
    x = np.empty((sel.size, *out_shape), np.float32)
    for a in range(0, sel.size, block):
        idx = sel[a:a + block]
        imgs = check_images(ds["image"].isel(sample=idx).values, None, source, names=samples[a:a + block])
        x[a:a + idx.size] = imgs if ccf is None else ccf(imgs)
    y = np.asarray(ds["labels"].values[sel], dtype=bool)
    return Split(x, y, np.asarray(samples)), (x if ccf is None else None)


def input_scale(x: np.ndarray) -> float:
    """Median over the inputs of their per-input mean (1 when that is not positive)."""
    s = float(np.median(x.reshape(x.shape[0], -1).mean(axis=1))) if x.size else 0.0
    return s if (math.isfinite(s) and s > 0) else 1.0


def pos_weights(cfg: ClassifierTrainConfig, y: np.ndarray) -> np.ndarray:
    """Weight of the positive term of the BCE per label (see :class:`ClassifierTrainConfig`)."""
    if isinstance(cfg.pos_weight, dict):
        return np.array([float(cfg.pos_weight.get(n, 1.0)) for n in LABELS])
    if cfg.pos_weight == "none":
        return np.ones(len(LABELS))
    pos = y.sum(0).astype(np.float64)
    neg = y.shape[0] - pos
    w = np.sqrt(np.where(pos > 0, neg / np.maximum(pos, 1), 1.0))
    return np.clip(w, 1.0, cfg.max_pos_weight)


def noise_augmenter(ds: Any, tr: Split, tc: ClassifierTrainConfig
                    ) -> Callable[[torch.Tensor, np.ndarray, np.random.Generator], torch.Tensor]:
    """The ``augment.noise`` step: (batch, its training-split indices, rng) → the batch, half of its images
    with U(0, b) added on their active pixels (hole to 2θ_max), b ~ U(0, noise × median per-image mean)."""
    from .evaluate import store_active_pixels
    from .metrics import noise_bounds

    sel = np.flatnonzero(ds["split"].values == 0)[:len(tr)]
    active = store_active_pixels(ds, sel)
    if active is None:
        raise ValueError(f"{tc.dataset}: train.augment.noise needs the detector geometry (hole_radius, config)")
    ref = noise_bounds(tr.x[:2000], active[:2000])["mean"]
    b_max = tc.augment.noise * ref

    def add(x: torch.Tensor, idx: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        n = x.shape[0]
        on = rng.uniform(size=n) < 0.5
        b = np.where(on, rng.uniform(0.0, b_max, size=n), 0.0).astype(np.float32)
        u = rng.uniform(size=x.shape).astype(np.float32) * b[:, None, None] * active[idx]
        return x + torch.from_numpy(u)

    return add


def augment(x: torch.Tensor, rng: np.random.Generator, rot90: bool, flips: bool = True) -> torch.Tensor:
    """Random horizontal and vertical flips (``flips``) and transposes (``rot90``) per image of (B, H, W), in place.

    Flips and transposes together make all eight turns and mirrors of a square.
    """
    n = x.shape[0]
    for dim, on in ((-1, flips), (-2, flips), (0, rot90)):
        if not on:
            continue
        sel = torch.from_numpy(np.flatnonzero(rng.uniform(size=n) < 0.5))
        if sel.numel():
            x[sel] = x[sel].transpose(-1, -2) if dim == 0 else x[sel].flip(dim)
    return x


@torch.no_grad()
def logits_of(net: torch.nn.Module, x: np.ndarray, batch: int = 128) -> np.ndarray:
    """Logits (n, 11) float64 of inputs (n, H, W) in eval mode."""
    net.eval()
    out = [net(torch.from_numpy(np.ascontiguousarray(x[s:s + batch]))).double().numpy()
           for s in range(0, x.shape[0], batch)]
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)))


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


def run_fingerprint(cfg: ClassifierConfig, dataset_fp: str) -> str:
    """What a checkpoint must match to be resumed: model, CCF and training settings, and the dataset."""
    assert cfg.train is not None
    spec = {"model": cfg.model.model_dump(mode="json"), "ccf": cfg.ccf.model_dump(mode="json"),
            "train": cfg.train.model_dump(mode="json", exclude={"dataset", "out", "threads", "minutes", "max_epochs"}),
            "dataset": dataset_fp}
    return fingerprint(spec)


def dataset_fingerprint(path: str | os.PathLike[str]) -> str:
    """The fingerprint of the job that wrote a dataset store (its manifest)."""
    job = Manifest(path).job()
    if not job or "fingerprint" not in job:
        raise ValueError(f"{path}: no job fingerprint in the store's manifest")
    return str(job["fingerprint"])


@dataclass
class _State:
    epoch: int = 0
    step: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    #: with ``train.keep_best``: epoch, val loss and weights of the lowest validation loss so far
    best: dict[str, Any] | None = None


def _bce(logits: torch.Tensor, y: torch.Tensor, pw: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=pw)


def train(cfg: ClassifierConfig, log: Log = print, max_new_epochs: int | None = None) -> Path:
    """Train (or resume) the classifier of ``cfg`` (module doc); return the path of ``model.pt``.

    ``max_new_epochs``: stop after that many epochs of this call, leaving
    only ``checkpoint.pt`` (its path is returned; to test resuming).
    """
    from ..ml.train import lr_factor
    from .dataset import open_dataset

    if cfg.train is None:
        raise ValueError("classifier config: no 'train' section")
    tc = cfg.train
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    torch.set_num_threads(tc.threads)
    out = Path(tc.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = open_dataset(tc.dataset)
    dfp = dataset_fingerprint(tc.dataset)
    fp = run_fingerprint(cfg, dfp)
    final, partial = out / "model.pt", out / "checkpoint.pt"
    if final.exists():
        ck = torch.load(final, map_location="cpu", weights_only=True)
        if ck.get("fingerprint") == fp:
            log(f"{final}: finished earlier (same config and dataset)")
            return final
        log(f"{final}: from another config or dataset; training again")
    image_shape = (int(ds.sizes["row"]), int(ds.sizes["col"]))
    ccf = CCF(image_shape, cfg.ccf) if cfg.model.input == "ccf" else None
    if tc.augment.rot90 and ccf is None and image_shape[0] != image_shape[1]:
        raise ValueError(f"{tc.dataset}: train.augment.rot90 needs square images, got {image_shape}")
    src = str(tc.dataset)
    t_load = time.perf_counter()
    # CCF input with noise augmentation keeps the training images too: the maps of the noisy batches
    # are computed per step (round 3: 877 against 1136 training images/s with the maps made once)
    raw_images = ccf is not None and bool(tc.augment.noise)
    tr, _ = read_split(ds, 0, src, tc.max_train_samples, None if raw_images else ccf)
    tr_images = tr if ccf is None or raw_images else None
    if raw_images:
        assert ccf is not None
        tr = Split(np.concatenate([ccf(tr.x[a:a + 500]) for a in range(0, len(tr), 500)]), tr.y, tr.sample)
    va, _ = read_split(ds, 1, src, tc.max_val_samples, ccf)
    if len(tr) < tc.batch_size or len(va) == 0:
        raise ValueError(f"{src}: {len(tr)} training and {len(va)} validation images; need at least "
                         f"batch_size={tc.batch_size} and one")
    log(f"{src}: {len(tr)} train, {len(va)} val {cfg.model.input}s {'×'.join(map(str, tr.x.shape[1:]))} loaded "
        f"in {time.perf_counter() - t_load:.0f} s")
    scale = cfg.model.input_scale or input_scale(tr.x)
    noisy = noise_augmenter(ds, tr_images, tc) if tc.augment.noise and tr_images is not None else None
    pw = torch.as_tensor(pos_weights(tc, tr.y), dtype=torch.float32)
    torch.manual_seed(tc.seed)
    net = PreActResNet18(cfg.model, scale, in_channels=cfg.ccf.channels if ccf is not None else 1)
    opt = torch.optim.AdamW(net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    st = _State()
    if partial.exists():
        ck = torch.load(partial, map_location="cpu", weights_only=True)
        if ck.get("fingerprint") == fp:
            net.load_state_dict(ck["state"])
            opt.load_state_dict(ck["opt"])
            st = _State(ck["epoch"] + 1, ck["step"], ck["seconds"], ck["history"], ck.get("best"))
            log(f"resuming after epoch {st.epoch} (step {st.step}, {st.seconds:.0f} s)")
        else:
            log(f"{partial}: from another config or dataset; starting again")
    steps_per_epoch = len(tr) // tc.batch_size
    total = tc.max_epochs * steps_per_epoch
    budget = 60.0 * tc.minutes
    yt = torch.from_numpy(tr.y.astype(np.float32))
    t0 = time.perf_counter()

    def progress() -> float:
        return max(st.step / total, (st.seconds + time.perf_counter() - t0) / budget)

    done = progress() >= 1.0
    first_epoch = st.epoch
    for epoch in range(st.epoch, tc.max_epochs):
        if done:
            break
        rng = np.random.default_rng([tc.seed, epoch])
        perm = rng.permutation(len(tr))
        net.train()
        te, loss_sum, nb = time.perf_counter(), 0.0, 0
        for b in range(steps_per_epoch):
            p = progress()
            if p >= 1.0:
                done = True
                break
            for g in opt.param_groups:
                g["lr"] = tc.lr * lr_factor(p, tc.warmup)
            idx = np.sort(perm[b * tc.batch_size:(b + 1) * tc.batch_size])
            if noisy is not None:
                assert tr_images is not None
                xb = noisy(torch.from_numpy(tr_images.x[idx]), idx, rng)
                if ccf is not None:
                    xb = torch.from_numpy(ccf(xb.numpy()))
            else:
                xb = torch.from_numpy(tr.x[idx])
            if ccf is None:
                xb = augment(xb, rng, tc.augment.rot90, tc.augment.flips)
            loss = _bce(net(xb), yt[idx], pw)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            st.step += 1
            loss_sum += float(loss.detach())
            nb += 1
        if nb == 0:
            break
        train_s = time.perf_counter() - te
        lv = logits_of(net, va.x)
        val_loss = float(_bce(torch.from_numpy(lv).float(), torch.from_numpy(va.y.astype(np.float32)), pw))
        half = score_metrics(lv, np.zeros(len(LABELS)), va.y)["raw"]
        rec = {"epoch": epoch, "loss": loss_sum / nb, "val_loss": val_loss, "val_macro_f1_at_0.5": half["macro_f1"],
               "lr": opt.param_groups[0]["lr"], "steps": nb, "train_seconds": train_s,
               "train_images_per_s": nb * tc.batch_size / train_s, "seconds": time.perf_counter() - te,
               "progress": min(1.0, progress())}
        st.history.append(rec)
        if tc.keep_best and (st.best is None or val_loss < st.best["val_loss"]):
            st.best = {"epoch": epoch, "val_loss": val_loss,
                       "state": {k: v.detach().clone() for k, v in net.state_dict().items()}}
        log(f"epoch {epoch + 1}: loss {rec['loss']:.4f} | val loss {val_loss:.4f}, macro-F1 (p > 0.5) "
            f"{half['macro_f1'] or 0:.3f} | {rec['train_images_per_s']:.0f} img/s, {rec['seconds']:.0f} s, "
            f"{100 * rec['progress']:.0f}% done")
        with atomic_path(partial) as tmp:  # a kill mid-save leaves the previous epoch's checkpoint
            torch.save({"fingerprint": fp, "state": net.state_dict(), "opt": opt.state_dict(), "epoch": epoch,
                        "step": st.step, "seconds": st.seconds + time.perf_counter() - t0,
                        "history": st.history, "best": st.best}, tmp)
        if max_new_epochs is not None and epoch + 1 - first_epoch >= max_new_epochs and not done:
            log(f"stopping after {max_new_epochs} new epoch(s); rerun to resume")
            return partial
    loop_seconds = st.seconds + time.perf_counter() - t0
    selected = len(st.history) - 1
    if st.best is not None and st.best["epoch"] != selected:
        net.load_state_dict(st.best["state"])
        selected = int(st.best["epoch"])
        log(f"keeping the weights of epoch {selected + 1} (lowest val loss {st.best['val_loss']:.4f})")
    lv = logits_of(net, va.x)
    thr = best_thresholds(lv, va.y)
    val = score_metrics(lv, thr, va.y)
    ckpt = {
        "format": CHECKPOINT_FORMAT, "hifft_version": __version__, "torch_version": str(torch.__version__),
        "fingerprint": fp, "labels": list(LABELS), "image_shape": list(image_shape),
        "model_config": cfg.model.model_dump(mode="json"), "ccf_config": cfg.ccf.model_dump(mode="json"),
        "input_scale": float(scale), "thresholds": thr.tolist(), "state": net.state_dict(),
        "train_config": json.loads(tc.model_dump_json()), "dataset": {"path": src, "fingerprint": dfp},
        "epochs": len(st.history), "selected_epoch": selected, "history": st.history,
    }
    with atomic_path(final) as tmp:
        torch.save(ckpt, tmp)
    partial.unlink(missing_ok=True)
    imgs = sum(h["steps"] for h in st.history) * tc.batch_size
    tsec = sum(h["train_seconds"] for h in st.history)
    record = {
        "format": CHECKPOINT_FORMAT, "hifft_version": __version__, "torch_version": str(torch.__version__),
        "config": json.loads(cfg.model_dump_json()),
        "dataset": {"path": src, "fingerprint": dfp, "n_train": len(tr), "n_val": len(va),
                    "image_shape": list(image_shape)},
        "input_scale": float(scale), "pos_weight": pw.tolist(), "parameters": n_parameters(net),
        "weights_bytes": final.stat().st_size, "epochs": len(st.history), "selected_epoch": selected,
        "steps": st.step,
        "wall_seconds": time.perf_counter() - t_start, "loop_seconds": loop_seconds,
        "train_images_per_s": imgs / tsec if tsec > 0 else None, "threads": tc.threads,
        "load_average_start": list(load_start), "load_average_end": list(os.getloadavg()),
        "thresholds": {n: {"logit": float(t), "probability": float(1 / (1 + math.exp(-t)))}
                       for n, t in zip(LABELS, thr, strict=True)},
        "val": val, "history": st.history,
    }
    atomic_write(out / "model.json", json.dumps(record, indent=1))
    log(f"wrote {final} ({len(st.history)} epochs, {record['wall_seconds']:.0f} s; val macro-F1 "
        f"{val['enforced']['macro_f1'] or 0:.3f} after the hierarchy, thresholds from the val split)")
    return final


# ---------------------------------------------------------------------------
# prediction
# ---------------------------------------------------------------------------


class LabelPredictor:
    """What every trained labeller shares: ``logits`` (n, 11) against per-label ``thresholds`` (logits),
    images of ``image_shape``; :meth:`predict` thresholds and enforces the hierarchy."""

    path: str
    thresholds: np.ndarray
    image_shape: tuple[int, int]
    meta: dict[str, Any]
    #: the CCF-map stage of a CCF-input model (timed on its own by the evaluation), else None
    ccf: CCF | None = None

    def _accept(self, ckpt: dict[str, Any], fmt: str, what: str, path: str) -> None:
        """Refuse a checkpoint of another format or label set; remember ``path``."""
        if ckpt.get("format") != fmt:
            raise ValueError(f"{path}: not an hifft diffraction {what} (format {ckpt.get('format')!r})")
        if list(ckpt["labels"]) != list(LABELS):
            raise ValueError(f"{path}: labels {ckpt['labels']} differ from this hifft's {list(LABELS)}")
        self.path = path

    def logits(self, images: Any, batch: int = 128, source: str = "images") -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Input, first activation, configs and parameter count (the evaluation's model record)."""
        raise NotImplementedError

    def predict(self, images: Any, ids: Sequence[str] | None = None, batch: int = 128,
                source: str = "images") -> Any:
        """An xarray Dataset over (image, label): ``probability``, ``logit``, ``raw`` (thresholded),
        ``labels`` (after the hierarchy), and ``id`` per image."""
        import xarray as xr

        lg = self.logits(images, batch, source)
        margin = lg - self.thresholds[None, :]
        raw = margin > 0
        fixed = enforce_hierarchy(raw, margin) if raw.size else raw
        n = lg.shape[0]
        return xr.Dataset(
            {"probability": (("image", "label"), 1 / (1 + np.exp(-lg))), "logit": (("image", "label"), lg),
             "raw": (("image", "label"), raw), "labels": (("image", "label"), fixed),
             "id": ("image", list(ids) if ids is not None else [str(i) for i in range(n)])},
            coords={"label": list(LABELS), "threshold": ("label", 1 / (1 + np.exp(-self.thresholds)))},
            attrs={"model": self.path, "labels_rule": "raw: logit > threshold; labels: raw after enforce_hierarchy"})


class Classifier(LabelPredictor):
    """A trained classifier (:func:`load`): images in detector units → labels."""

    def __init__(self, ckpt: dict[str, Any], path: str = "<memory>") -> None:
        self._accept(ckpt, CHECKPOINT_FORMAT, "classifier", path)
        self.model_config = ClassifierModelConfig.model_validate(ckpt["model_config"])
        self.ccf_config = CCFConfig.model_validate(ckpt["ccf_config"])
        self.image_shape = (int(ckpt["image_shape"][0]), int(ckpt["image_shape"][1]))
        self.thresholds = np.asarray(ckpt["thresholds"], dtype=np.float64)
        channels = self.ccf_config.channels if self.model_config.input == "ccf" else 1
        self.net = PreActResNet18(self.model_config, float(ckpt["input_scale"]), in_channels=channels)
        self.net.load_state_dict(ckpt["state"])
        self.net.eval()
        self.ccf = CCF(self.image_shape, self.ccf_config) if self.model_config.input == "ccf" else None
        self.meta = {k: ckpt.get(k) for k in ("fingerprint", "hifft_version", "dataset", "epochs", "input_scale")}

    def describe(self) -> dict[str, Any]:
        return {"input": self.model_config.input, "first_activation": self.model_config.first_activation,
                "model_config": self.model_config.model_dump(mode="json"),
                "ccf_config": self.ccf_config.model_dump(mode="json") if self.ccf is not None else None,
                "parameters": sum(p.numel() for p in self.net.parameters())}

    def inputs(self, images: Any, source: str = "images") -> np.ndarray:
        """Network inputs from images (checked: size, finite pixels)."""
        x = check_images(images, self.image_shape, source)
        return x if self.ccf is None else self.ccf(x)

    def logits(self, images: Any, batch: int = 128, source: str = "images") -> np.ndarray:
        """Logits (n, 11) of images (n, rows, cols) or one (rows, cols)."""
        x = check_images(images, self.image_shape, source)
        outs = []
        for s in range(0, x.shape[0], batch):
            xb = x[s:s + batch]
            outs.append(logits_of(self.net, xb if self.ccf is None else self.ccf(xb), batch))
        return np.concatenate(outs) if outs else np.zeros((0, len(LABELS)))

def load(path: str | os.PathLike[str]) -> LabelPredictor:
    """The classifier in ``model.pt`` written by :func:`train`, or an ensemble written by
    :func:`hifft.diffraction.ensemble.build`."""
    ckpt = read_checkpoint(path, "a diffraction classifier model file")
    if ckpt.get("format") == ENSEMBLE_FORMAT:
        from .ensemble import Ensemble

        return Ensemble(ckpt, str(path))
    return Classifier(ckpt, str(path))


def predict_files(clf: LabelPredictor, paths: Sequence[str | os.PathLike[str]], dataset: str | None = None,
                  variable: str | None = None, split: int | None = None, batch: int = 128) -> Any:
    """Predictions (:meth:`Classifier.predict`) for every image in ``paths`` (see :mod:`.images`).

    ``dataset`` applies to the HDF5 files among ``paths``, ``variable`` and
    ``split`` to the stores; an option that no file takes is an error.
    """
    import xarray as xr

    from .images import HDF5, STORES, read_images

    if not paths:
        raise ImageError("predict: no image files given")
    exts = {Path(p).suffix.lower() for p in paths}
    if dataset is not None and not exts & set(HDF5):
        raise ImageError("predict: --dataset applies to HDF5 files, and none was given")
    if (variable is not None or split is not None) and not exts & set(STORES):
        raise ImageError("predict: --variable and --split apply to .zarr/.nc stores, and none was given")
    parts = []
    for p in paths:
        ext = Path(p).suffix.lower()
        kw: dict[str, Any] = {"dataset": dataset} if ext in HDF5 else (
            {"variable": variable, "split": split} if ext in STORES else {})
        imgs, ids = read_images(p, **kw)
        parts.append(clf.predict(imgs, ids, batch, source=str(p)))
    return xr.concat(parts, dim="image") if len(parts) > 1 else parts[0]


__all__ = ["CHECKPOINT_FORMAT", "ENSEMBLE_FORMAT", "Classifier", "LabelPredictor", "Split", "augment",
           "dataset_fingerprint", "input_scale", "load", "logits_of", "pos_weights", "predict_files", "read_split",
           "run_fingerprint", "train"]
