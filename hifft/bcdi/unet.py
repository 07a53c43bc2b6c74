"""U-Net with dilated blocks for detector-gap inpainting, 2D or 3D (``dims``), small widths for CPU.

The family of Masto's Unet_mod (seeds 002/004, §4.3.2; the 3D variant from the authors' code):
the first encoder levels are *dilated blocks*, which concatenate their input with parallel
3×3(×3) convolutions at several dilation rates (so a few layers see across a 12-px gap),
the deeper levels are plain double convolutions; max-pooling down, nearest upsampling + skip
concatenation up, a 1×1 head. Differences from the seed, on purpose:

- widths are a parameter (default 16-32-64, not 32…478 or 48…768): the shipped models must
  train in 90 minutes on 2 CPU cores and weigh ≤ 10 MB;
- the head is linear (no sigmoid): the target is log1p(counts)/scale, which is ≥ 0 but not
  bounded by 1 when a pattern is brighter than the training reference; callers clamp at 0;
- any input size works: the input is padded (replicate) to a multiple of 2^(levels-1) and
  the output cropped back, so odd-sized patches and arrays smaller than a patch go through;
- activations are channels-last (oneDNN's fast layout on CPU), and :func:`autocast` runs the
  convolutions in bfloat16 when asked (the head stays float32).

Input (B, in_channels, *spatial); output (B, 1, *spatial). The model file (:func:`save_model`,
:func:`load_model`) holds the architecture, the state dict and what inference needs (patch,
margin, stride, reference peak, precision). This module imports torch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import read_checkpoint


def _conv(dims: int) -> type[nn.Conv2d] | type[nn.Conv3d]:
    if dims == 2:
        return nn.Conv2d
    if dims == 3:
        return nn.Conv3d
    raise ValueError(f"dims: expected 2 or 3, got {dims}")


class DilatedBlock(nn.Module):
    """Input concatenated with one 3-wide convolution per dilation rate, then a 3-wide fusing conv.

    ``cout`` channels out; each dilated branch has ``max(1, cout // len(rates))`` channels.
    """

    def __init__(self, dims: int, cin: int, cout: int, rates: Sequence[int]) -> None:
        super().__init__()
        conv = _conv(dims)
        if not rates or any(int(r) < 1 for r in rates):
            raise ValueError(f"dilation rates: expected positive integers, got {list(rates)}")
        branch = max(1, cout // len(rates))
        self.branches = nn.ModuleList(conv(cin, branch, 3, padding=int(r), dilation=int(r)) for r in rates)
        self.fuse = conv(cin + branch * len(rates), cout, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, *(self.act(b(x)) for b in self.branches)], dim=1)
        return self.act(self.fuse(h))


class PlainBlock(nn.Module):
    """Two 3-wide convolutions with LeakyReLU."""

    def __init__(self, dims: int, cin: int, cout: int) -> None:
        super().__init__()
        conv = _conv(dims)
        self.c1 = conv(cin, cout, 3, padding=1)
        self.c2 = conv(cout, cout, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.c2(self.act(self.c1(x))))


class InpaintUNet(nn.Module):
    """U-Net over ``len(widths)`` levels; level i uses a :class:`DilatedBlock` with
    ``dilations[i]`` when given, else a :class:`PlainBlock`.

    ``dims`` 2 or 3; ``in_channels`` 2 = (masked log-intensity, mask). ``residual``: a third input
    channel holds a starting estimate (:func:`hifft.bcdi.inpaint.line_fill`) and the network predicts
    a correction to it (output = estimate + head; the head starts at zero, so an untrained
    residual model returns the estimate).
    """

    def __init__(self, dims: int = 3, widths: Sequence[int] = (16, 32, 64),
                 dilations: Sequence[Sequence[int]] = ((4, 3, 2, 1), (3, 2, 2, 1)), in_channels: int = 2,
                 residual: bool = False) -> None:
        super().__init__()
        conv = _conv(dims)
        widths = [int(w) for w in widths]
        if not widths or any(w < 1 for w in widths):
            raise ValueError(f"widths: expected positive channel counts, got {widths}")
        if len(dilations) > len(widths):
            raise ValueError(f"dilations: {len(dilations)} levels given for {len(widths)} widths")
        if residual and in_channels != 3:
            raise ValueError(f"residual: needs in_channels 3 (masked data, mask, estimate), got {in_channels}")
        self.dims = dims
        self.levels = len(widths)
        self.residual = bool(residual)
        self.arch = {"dims": int(dims), "widths": widths, "dilations": [[int(r) for r in d] for d in dilations],
                     "in_channels": int(in_channels)}
        if residual:  # old model files have no key: they load as before
            self.arch["residual"] = True
        self.down = nn.ModuleList()
        cin = in_channels
        for i, w in enumerate(widths):
            block: nn.Module = DilatedBlock(dims, cin, w, dilations[i]) if i < len(dilations) else PlainBlock(
                dims, cin, w)
            self.down.append(block)
            cin = w
        self.up = nn.ModuleList(PlainBlock(dims, widths[i + 1] + widths[i], widths[i])
                                for i in reversed(range(self.levels - 1)))
        self.head = conv(widths[0], 1, 1)
        if residual:
            nn.init.zeros_(self.head.weight)
            if self.head.bias is not None:
                nn.init.zeros_(self.head.bias)
        self.pool = nn.MaxPool2d(2) if dims == 2 else nn.MaxPool3d(2)
        # channels-last: oneDNN's fast convolution layout on CPU (2-3× for 3D, with bfloat16 more)
        self.memory_format = torch.channels_last if dims == 2 else torch.channels_last_3d
        for p in self.parameters():  # conv weights (what nn.Module.to(memory_format=...) converts)
            if p.dim() == dims + 2:
                p.data = p.data.contiguous(memory_format=self.memory_format)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.dims + 2:
            raise ValueError(f"input: expected (batch, channels, {self.dims} spatial axes), got shape "
                             f"{tuple(x.shape)}")
        spatial = x.shape[2:]
        start = x[:, -1:].float() if self.residual else None
        k = 2 ** (self.levels - 1)
        pad: list[int] = []
        for n in reversed(spatial):  # F.pad lists the last axis first
            pad += [0, (-int(n)) % k]
        if any(pad):
            x = F.pad(x, pad, mode="replicate")
        x = x.contiguous(memory_format=self.memory_format)
        skips = []
        h = x
        for i, block in enumerate(self.down):
            if i:
                h = self.pool(h)
            h = block(h)
            skips.append(h)
        for j, block in enumerate(self.up):
            skip = skips[-2 - j]
            h = F.interpolate(h, size=skip.shape[2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1))
        with torch.autocast(device_type=h.device.type, enabled=False):  # the head in float32 under bf16 autocast
            out = self.head(h.float())
        out = out[(..., *(slice(0, int(n)) for n in spatial))]
        return out + start if start is not None else out


PRECISIONS = ("float32", "bfloat16")


def autocast(precision: str, device: str | torch.device = "cpu") -> torch.autocast:
    """Context for a forward pass in ``precision``: "float32" (plain), or "bfloat16" (autocast: convolutions
    in bfloat16, weights, head and loss in float32; ~2× faster on CPUs with AVX512-BF16 or AMX)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {PRECISIONS}, got {precision!r}")
    dev = torch.device(device).type
    return torch.autocast(device_type=dev, dtype=torch.bfloat16, enabled=precision == "bfloat16")


def n_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)




# ---------------------------------------------------------------------------
# the model file
# ---------------------------------------------------------------------------

CHECKPOINT_FORMAT = "hifft.bcdi.inpaint/1"


@dataclass
class InpaintModel:
    """A trained network with what inference needs: patch size, context margin and stride (voxels),
    reference peak of the log scale (counts), the precision it was trained in (inference default);
    ``meta``: the rest of the file (config, history)."""

    net: InpaintUNet
    patch: int
    margin: int
    stride: int
    peak: float
    meta: dict[str, Any] = field(default_factory=dict)
    precision: str = "float32"

    @property
    def dims(self) -> int:
        return self.net.dims


def architecture(net: InpaintUNet) -> dict[str, Any]:
    """The constructor arguments of ``net`` (JSON-able)."""
    return dict(net.arch)


def save_model(path: str | os.PathLike[str], model: InpaintModel) -> Path:
    """Write ``model`` atomically as a torch file (state dict + plain metadata; loads with weights_only)."""
    from ..atomic import atomic_path

    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "arch": architecture(model.net),
        "patch": int(model.patch),
        "margin": int(model.margin),
        "stride": int(model.stride),
        "peak": float(model.peak),
        "precision": model.precision,
        "state": model.net.state_dict(),
        "meta": model.meta,
    }
    p = Path(path)
    with atomic_path(p) as tmp:
        torch.save(ckpt, tmp)
    return p


def load_model(path: str | os.PathLike[str]) -> InpaintModel:
    """Read a model written by :func:`save_model`; errors name the file."""
    ck = read_checkpoint(path, "an inpainting model file", CHECKPOINT_FORMAT)
    net = InpaintUNet(**ck["arch"])
    net.load_state_dict(ck["state"])
    net.eval()
    return InpaintModel(net, int(ck["patch"]), int(ck["margin"]), int(ck["stride"]), float(ck["peak"]),
                        dict(ck.get("meta", {})), str(ck.get("precision", "float32")))


__all__ = ["DilatedBlock", "PlainBlock", "InpaintUNet", "PRECISIONS", "autocast", "n_parameters",
           "CHECKPOINT_FORMAT", "InpaintModel",
           "architecture", "save_model", "load_model"]
