"""Learned image codecs (torch): factorized prior, scale hyperprior and mean–scale hyperprior.

The Ballé et al. 2018 / Minnen et al. 2018 family (CompressAI's ``bmshj2018-factorized``,
``bmshj2018-hyperprior``, ``mbt2018-mean``), one output channel, written in torch
because CompressAI 1.2.8 pins numpy < 2. Layers:

- :class:`GDN` (generalized divisive normalization, Ballé 2016) and its inverse;
- :class:`FactorizedDensity`: the per-channel non-parametric density of Ballé 2018
  (appendix 6.1), a monotone cumulative built from softplus matrices and tanh gates;
- a Gaussian conditional whose likelihood integrates N(μ, σ) over the unit bin.

Quantisation: in training, the rate uses additive uniform noise and the decoder sees
straight-through rounded latents ("mixed" quantisation); at inference ŷ = round(y),
clamped to ±``LATENT_LIMIT`` so every symbol has a finite code. A model maps a
(B, C_in, H, W) input (C_in = 2 with the mask channel) to a (B, 1, H, W) image;
H and W must be multiples of :attr:`ImageCodec.stride`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import KINDS, Kind

#: |ŷ|, |ẑ| are clamped below this at inference (coding ranges are finite)
LATENT_LIMIT = 2048
#: smallest σ of the Gaussian conditional (also the first entry of the coding scale table)
SCALE_MIN = 0.11
_LIKELIHOOD_MIN = 1e-9


def _inv_softplus(v: float) -> float:
    return math.log(math.expm1(v))


class GDN(nn.Module):
    """y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²) (``inverse``: multiply), β, γ ≥ 0 through softplus."""

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta_raw = nn.Parameter(torch.full((channels,), _inv_softplus(1.0)))
        g = torch.full((channels, channels), -10.0)
        g.fill_diagonal_(_inv_softplus(0.1))
        self.gamma_raw = nn.Parameter(g)

    def forward(self, x: Tensor) -> Tensor:
        beta = F.softplus(self.beta_raw) + 1e-6
        gamma = F.softplus(self.gamma_raw)
        c = gamma.shape[0]
        norm = F.conv2d(x * x, gamma.view(c, c, 1, 1), beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


def _conv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def _deconv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=k // 2, output_padding=stride - 1)


class FactorizedDensity(nn.Module):
    """Per-channel learned density p(x) of Ballé 2018 (appendix 6.1), filters (3, 3, 3).

    :meth:`cumulative_logits` is monotone in x, so the CDF tables used for coding are
    found without CompressAI's auxiliary quantile loss (:func:`hifft.images.entropy.factorized_tables`).
    """

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0) -> None:
        super().__init__()
        dims = (1, *filters, 1)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

    def cumulative_logits(self, x: Tensor) -> Tensor:
        """Logits of the CDF at ``x`` of shape (C, 1, n) → (C, 1, n)."""
        for i, (m, b) in enumerate(zip(self.matrices, self.biases, strict=True)):
            x = torch.matmul(F.softplus(m), x) + b
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i]) * torch.tanh(x)
        return x

    def likelihood(self, v: Tensor) -> Tensor:
        """P(bin [v − ½, v + ½]) for v of shape (B, C, H, W)."""
        b, c, h, w = v.shape
        flat = v.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self.cumulative_logits(flat - 0.5)
        upper = self.cumulative_logits(flat + 0.5)
        sign = -torch.sign(lower + upper).detach()  # evaluate in the tail where it is more accurate
        lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        return lik.reshape(c, b, h, w).permute(1, 0, 2, 3).clamp_min(_LIKELIHOOD_MIN)


def gaussian_likelihood(v: Tensor, scale: Tensor, mean: Tensor | None = None) -> Tensor:
    """P(bin [v − ½, v + ½]) under N(mean, scale²) (scale clamped at :data:`SCALE_MIN`)."""
    s = scale.clamp_min(SCALE_MIN)
    d = torch.abs(v - mean) if mean is not None else torch.abs(v)
    # both tails from the upper side: Φ(−(|d| − ½)/σ) − Φ(−(|d| + ½)/σ), accurate far out
    upper = 0.5 * torch.erfc((d - 0.5) / (s * math.sqrt(2)))
    lower = 0.5 * torch.erfc((d + 0.5) / (s * math.sqrt(2)))
    return (upper - lower).clamp_min(_LIKELIHOOD_MIN)


def quantize(v: Tensor, training: bool) -> tuple[Tensor, Tensor]:
    """(values for the rate, values for the decoder): noise and straight-through rounding in
    training; round(v) clamped to ±``LATENT_LIMIT`` (twice) at inference."""
    if training:
        noisy = v + torch.empty_like(v).uniform_(-0.5, 0.5)
        return noisy, v + (torch.round(v) - v).detach()
    r = torch.round(v).clamp(-LATENT_LIMIT, LATENT_LIMIT - 1)
    return r, r


class ImageCodec(nn.Module):
    """Common interface: ``forward`` (x̂ and likelihoods), analysis and synthesis for the coder."""

    kind: Kind
    #: downsampling factor from the image to the deepest latent
    stride: int = 16

    def __init__(self, n: int, m: int, in_channels: int) -> None:
        super().__init__()
        self.n, self.m, self.in_channels = n, m, in_channels
        self.g_a = nn.Sequential(_conv(in_channels, n), GDN(n), _conv(n, n), GDN(n), _conv(n, n), GDN(n),
                                 _conv(n, m))
        self.g_s = nn.Sequential(_deconv(m, n), GDN(n, True), _deconv(n, n), GDN(n, True), _deconv(n, n),
                                 GDN(n, True), _deconv(n, 1))

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n, "m": self.m, "in_channels": self.in_channels}

    def check_input(self, x: Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self.kind} codec: input must be (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.stride or w % self.stride:
            raise ValueError(f"{self.kind} codec: image size {h}×{w} is not a multiple of {self.stride}")

    def forward(self, x: Tensor) -> dict[str, Any]:
        """x̂ (B, 1, H, W) and the likelihoods {"y": ..., ["z": ...]} of the quantised latents."""
        raise NotImplementedError

    def bits(self, likelihoods: dict[str, Tensor]) -> Tensor:
        """Estimated bits per image: Σ −log2 p over all latents (B,)."""
        return sum(-torch.log2(v).flatten(1).sum(1) for v in likelihoods.values())  # type: ignore[return-value]


class FactorizedPrior(ImageCodec):
    """Ballé 2018 factorized prior: y = g_a(x), ŷ coded with a learned per-channel density."""

    kind: Kind = "factorized"
    stride = 16

    def __init__(self, n: int = 32, m: int = 48, in_channels: int = 1) -> None:
        super().__init__(n, m, in_channels)
        self.density_y = FactorizedDensity(m)

    def forward(self, x: Tensor) -> dict[str, Any]:
        self.check_input(x)
        y = self.g_a(x)
        y_rate, y_dec = quantize(y, self.training)
        return {"x_hat": self.g_s(y_dec), "likelihoods": {"y": self.density_y.likelihood(y_rate)}}


class Hyperprior(ImageCodec):
    """Ballé 2018 scale hyperprior: z = h_a(|y|) with a factorized density; σ = h_s(ẑ) for ŷ."""

    kind: Kind = "hyperprior"
    stride = 64

    def __init__(self, n: int = 32, m: int = 48, in_channels: int = 1) -> None:
        super().__init__(n, m, in_channels)
        self.h_a = nn.Sequential(_conv(m, n, 3, 1), nn.ReLU(), _conv(n, n), nn.ReLU(), _conv(n, n))
        self.h_s = self._hyper_synthesis(n, m)
        self.density_z = FactorizedDensity(n)

    def _hyper_synthesis(self, n: int, m: int) -> nn.Module:
        return nn.Sequential(_deconv(n, n), nn.ReLU(), _deconv(n, n), nn.ReLU(), _conv(n, m, 3, 1), nn.ReLU())

    def hyper_input(self, y: Tensor) -> Tensor:
        return torch.abs(y)

    def entropy_parameters(self, z_hat: Tensor) -> tuple[Tensor, Tensor | None]:
        """(σ, μ or None) of the Gaussian conditional of ŷ from ẑ."""
        return self.h_s(z_hat), None

    def forward(self, x: Tensor) -> dict[str, Any]:
        self.check_input(x)
        y = self.g_a(x)
        z = self.h_a(self.hyper_input(y))
        z_rate, z_dec = quantize(z, self.training)
        scale, mean = self.entropy_parameters(z_dec)
        y_rate, y_dec = quantize(y, self.training)
        return {"x_hat": self.g_s(y_dec),
                "likelihoods": {"y": gaussian_likelihood(y_rate, scale, mean),
                                "z": self.density_z.likelihood(z_rate)}}


class MeanScaleHyperprior(Hyperprior):
    """Minnen 2018 mean–scale hyperprior (no context model): (μ, σ) = h_s(ẑ), z = h_a(y)."""

    kind: Kind = "mean_scale"

    def __init__(self, n: int = 32, m: int = 48, in_channels: int = 1) -> None:
        super().__init__(n, m, in_channels)
        self.h_a = nn.Sequential(_conv(m, n, 3, 1), nn.LeakyReLU(), _conv(n, n), nn.LeakyReLU(), _conv(n, n))

    def _hyper_synthesis(self, n: int, m: int) -> nn.Module:
        mid = m * 3 // 2
        return nn.Sequential(_deconv(n, m), nn.LeakyReLU(), _deconv(m, mid), nn.LeakyReLU(),
                             _conv(mid, 2 * m, 3, 1))

    def hyper_input(self, y: Tensor) -> Tensor:
        return y

    def entropy_parameters(self, z_hat: Tensor) -> tuple[Tensor, Tensor | None]:
        p = self.h_s(z_hat)
        mean, scale = p.chunk(2, dim=1)
        # softplus keeps σ positive (CompressAI clamps a linear output at the lower bound instead)
        return F.softplus(scale), mean


_CLASSES: dict[str, type[ImageCodec]] = {"factorized": FactorizedPrior, "hyperprior": Hyperprior,
                                         "mean_scale": MeanScaleHyperprior}


def build_model(kind: str, n: int = 32, m: int = 48, in_channels: int = 1) -> ImageCodec:
    """A codec of ``kind`` (one of :data:`KINDS`) with widths ``n`` (transforms) and ``m`` (latent channels)."""
    if kind not in _CLASSES:
        raise ValueError(f"model.kind: unknown codec {kind!r}; choose one of {', '.join(KINDS)}")
    if n < 1 or m < 1 or in_channels not in (1, 2):
        raise ValueError(f"model: widths must be ≥ 1 and in_channels 1 or 2, got n={n}, m={m}, "
                         f"in_channels={in_channels}")
    return _CLASSES[kind](n=n, m=m, in_channels=in_channels)


__all__ = ["GDN", "KINDS", "LATENT_LIMIT", "SCALE_MIN", "FactorizedDensity", "FactorizedPrior", "Hyperprior",
           "ImageCodec", "MeanScaleHyperprior", "build_model", "gaussian_likelihood", "quantize"]
