"""The network: a 1D residual CNN with a class head and heteroscedastic Gaussian heads.

Input channels per q point (see :func:`curve_channels`): log-intensity
minus its per-curve mean over measured points, log relative error
``log10(σ/I)``, standardized ``log10 q`` (position on the grid: where a
feature sits in q is what sets a size) and the measured-point mask.

Outputs: class logits, and for every (class, parameter) slot a mean and a
log-variance in standardized target space. A deep ensemble of such
networks (different seeds) gives the predictive distribution: class
probabilities averaged; per slot a Gaussian mixture summarized by its mean
and total variance (aleatoric + epistemic).

This module imports torch at top level; import it only where torch is needed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .config import ModelConfig


def curve_channels(li: torch.Tensor, ls: torch.Tensor, m: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """(B, 4, nq) network input from log10 I, log10 σ, mask (B, nq) and standardized log q (nq)."""
    mf = m.to(li.dtype)
    n = mf.sum(dim=1, keepdim=True).clamp_min(1.0)
    off = (li * mf).sum(dim=1, keepdim=True) / n
    x0 = (li - off) * mf * 0.5
    rel = (ls - li).clamp(-4.0, 1.0)
    x1 = (rel + 2.0) * mf
    x2 = logq.to(li.dtype).expand_as(li)
    return torch.stack([x0, x1, x2, mf], dim=1)


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, k: int, dropout: float) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(cin, cout, k, stride, k // 2, bias=False)
        self.n1 = nn.BatchNorm1d(cout)
        self.c2 = nn.Conv1d(cout, cout, k, 1, k // 2, bias=False)
        self.n2 = nn.BatchNorm1d(cout)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.skip: nn.Module = (
            nn.Sequential(nn.Conv1d(cin, cout, 1, stride, bias=False), nn.BatchNorm1d(cout))
            if (cin != cout or stride != 1)
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.n1(self.c1(x)))
        h = self.n2(self.c2(self.drop(h)))
        return self.act(h + self.skip(x))


class ResNet1D(nn.Module):
    """Residual CNN over the q axis; outputs (logits, mu, logvar)."""

    def __init__(self, nq: int, n_classes: int, n_slots: int, cfg: ModelConfig, in_channels: int = 4) -> None:
        super().__init__()
        w0 = cfg.widths[0]
        layers: list[nn.Module] = [
            nn.Conv1d(in_channels, w0, 7, 2, 3, bias=False),
            nn.BatchNorm1d(w0),
            nn.GELU(),
        ]
        c = w0
        for i, w in enumerate(cfg.widths):
            for b in range(cfg.blocks_per_stage):
                stride = 2 if (i > 0 and b == 0) else 1
                layers.append(Block(c, w, stride, cfg.kernel_size, cfg.dropout))
                c = w
        self.body = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.body(torch.zeros(2, in_channels, nq)).flatten(1).shape[1]
        self.trunk = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, cfg.hidden),
            nn.GELU(),
            nn.Linear(cfg.hidden, cfg.hidden),
            nn.GELU(),
        )
        self.cls = nn.Linear(cfg.hidden, n_classes)
        self.mu = nn.Linear(cfg.hidden, n_slots)
        self.logvar = nn.Linear(cfg.hidden, n_slots)
        nn.init.zeros_(self.logvar.weight)
        nn.init.zeros_(self.logvar.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.trunk(self.body(x))
        return self.cls(h), self.mu(h), self.logvar(h).clamp(-12.0, 6.0)


def gaussian_nll(mu: torch.Tensor, logvar: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Mean over rows of the mean NLL over each row's own slots (``w`` marks them)."""
    wf = w.to(mu.dtype)
    nll = 0.5 * (logvar + (y - mu) ** 2 * torch.exp(-logvar) + math.log(2 * math.pi))
    per_row = (nll * wf).sum(1) / wf.sum(1).clamp_min(1.0)
    return per_row.mean()


@torch.no_grad()
def ensemble_predict(
    members: list[ResNet1D], x: torch.Tensor, batch: int = 4096
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class probabilities (B, C), slot means and total variances (B, S), standardized space."""
    probs, mus, vars_ = [], [], []
    for s in range(0, x.shape[0], batch):
        xb = x[s : s + batch]
        p_m, mu_m, v_m = [], [], []
        for net in members:
            net.eval()
            lg, mu, lv = net(xb)
            p_m.append(torch.softmax(lg, -1))
            mu_m.append(mu)
            v_m.append(torch.exp(lv))
        P = torch.stack(p_m).mean(0)
        MU = torch.stack(mu_m)
        V = torch.stack(v_m)
        mean = MU.mean(0)
        var = (V + MU**2).mean(0) - mean**2
        probs.append(P)
        mus.append(mean)
        vars_.append(var.clamp_min(1e-12))
    return (torch.cat(probs).numpy(), torch.cat(mus).numpy(), torch.cat(vars_).numpy())
