"""The classifier network: a pre-activated ResNet18 with seed 003's log first-layer activation.

Layout (seed 003, Table 8; He et al. 2016, "identity mappings"), widths a
multiple of ``base_width`` w (the seed's 64 costs 4× the compute of the
default 32 on a 2-core CPU):

- stem: conv 7×7 / 2 (w filters, no bias) → first activation → maxpool 3 / 2;
- 4 stages × 2 basic pre-activation blocks [BN → act → conv 3×3 → BN → act →
  conv 3×3] + shortcut, widths w, 2w, 4w, 8w, stride 2 at the start of
  stages 2–4 (1×1 projection shortcuts where the shape changes);
- BN → act → global average pooling → fc (11 logits; sigmoid outside).

Hidden activations are LeakyReLU(``leak``) (the seed's 0.2). The first
activation, right after the stem conv, is either the same LeakyReLU
(``"relu"``, the seed's "unmodified" network) or the log activation
h(x) = α·sign(x)·log(1 + e·|x|) (``"log"``), which equals the seed's
α(log(x + c₀) + c₁) for x ≥ 0, odd-symmetric, with c₀ = e⁻¹, c₁ = 1:
h(0) = 0, h'(0) = αe.

Input: one channel, the raw detector image (or a CCF map, :mod:`.ccf`;
``in_channels`` > 1 for multi-order CCF maps) divided by a fixed
``input_scale`` stored with the model. Because the stem conv is linear
without bias, a fixed scale is the same network class as feeding raw counts
(the seed): it only rescales the stem's initial weights.

This module imports torch at top level; import it only where torch is needed.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .config import ClassifierModelConfig
from .labels import LABELS


class _LogAct(torch.autograd.Function):
    """h(x) = α·sign(x)·log(1 + e|x|) with h'(x) = αe/(1 + e|x|), computed in place on fresh buffers
    (the out-of-place chain costs ~3× more on a CPU than the stem conv it follows)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return x.abs().mul_(math.e).log1p_().mul_(alpha).copysign_(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * x.abs().mul_(math.e).add_(1.0).reciprocal_().mul_(ctx.alpha * math.e), None


def log_activation(x: torch.Tensor, alpha: float = 0.2) -> torch.Tensor:
    """h(x) = α·sign(x)·log(1 + e|x|) = ±α(log(|x| + e⁻¹) + 1) (seed 003, c₀ = e⁻¹, c₁ = 1); h'(0) = αe."""
    out = _LogAct.apply(x, float(alpha))
    assert isinstance(out, torch.Tensor)
    return out


class LogActivation(nn.Module):
    """:func:`log_activation` as a layer (``alpha`` fixed, not learned)."""

    def __init__(self, alpha: float = 0.2) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return log_activation(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class PreActBlock(nn.Module):
    """Basic pre-activation block: BN → act → conv3×3(stride) → BN → act → conv3×3, plus shortcut."""

    def __init__(self, cin: int, cout: int, stride: int, leak: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.act = nn.LeakyReLU(leak)
        self.project = nn.Conv2d(cin, cout, 1, stride, bias=False) if (stride != 1 or cin != cout) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.bn1(x))
        skip = x if self.project is None else self.project(h)
        h = self.conv1(h)
        h = self.conv2(self.act(self.bn2(h)))
        return h + skip


class PreActResNet18(nn.Module):
    """Pre-activated ResNet18 over (B, in_channels, H, W) inputs in input units (or (B, H, W) for one
    channel); returns (B, 11) logits."""

    def __init__(self, cfg: ClassifierModelConfig, input_scale: float = 1.0, n_labels: int = len(LABELS),
                 in_channels: int = 1) -> None:
        super().__init__()
        if not (math.isfinite(input_scale) and input_scale > 0):
            raise ValueError(f"input_scale: must be positive and finite, got {input_scale!r}")
        w = cfg.base_width
        self.input_scale: torch.Tensor
        self.register_buffer("input_scale", torch.tensor(float(input_scale)))
        self.stem = nn.Conv2d(in_channels, w, 7, 2, 3, bias=False)
        self.first_act: nn.Module = (LogActivation(cfg.alpha) if cfg.first_activation == "log"
                                     else nn.LeakyReLU(cfg.leak))
        self.pool = nn.MaxPool2d(3, 2, 1)
        blocks: list[nn.Module] = []
        c = w
        for i, width in enumerate((w, 2 * w, 4 * w, 8 * w)):
            for b in range(2):
                blocks.append(PreActBlock(c, width, 2 if (i > 0 and b == 0) else 1, cfg.leak))
                c = width
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c)
        self.act = nn.LeakyReLU(cfg.leak)
        self.fc = nn.Linear(c, n_labels)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # variance scaling, as the seed's code
                nn.init.kaiming_normal_(m.weight, a=cfg.leak, nonlinearity="leaky_relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = x[:, None]
        h = self.pool(self.first_act(self.stem(x / self.input_scale)))
        h = self.act(self.bn(self.blocks(h)))
        return self.fc(h.mean(dim=(2, 3)))


def n_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


__all__ = ["LogActivation", "PreActBlock", "PreActResNet18", "log_activation", "n_parameters"]
