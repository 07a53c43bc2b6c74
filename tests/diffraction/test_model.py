"""The pre-activated ResNet18 and the log first-layer activation (seed 003)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hifft.diffraction.config import ClassifierModelConfig  # noqa: E402
from hifft.diffraction.labels import LABELS  # noqa: E402
from hifft.diffraction.model import LogActivation, PreActBlock, PreActResNet18, log_activation, n_parameters  # noqa: E402


def seed_formula(x: np.ndarray, alpha: float = 0.2) -> np.ndarray:
    """The paper's piecewise form: α(log(x + c0) + c1) for x ≥ 0, −α(log(c0 − x) + c1) below, c0 = e⁻¹, c1 = 1."""
    c0, c1 = math.exp(-1), 1.0
    pos = alpha * (np.log(np.maximum(x, 0) + c0) + c1)
    neg = -alpha * (np.log(c0 - np.minimum(x, 0)) + c1)
    return np.where(x >= 0, pos, neg)


def test_log_activation_is_the_seed_formula_odd_and_flat_at_zero():
    x = np.concatenate([np.linspace(-50, 50, 1001), [1e-9, -1e-9, 3e4, -3e4]])
    h = log_activation(torch.tensor(x, dtype=torch.float64), 0.2).numpy()
    np.testing.assert_allclose(h, seed_formula(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(log_activation(torch.tensor(-x), 0.2).numpy(), -h, rtol=0, atol=1e-15)  # odd
    assert float(log_activation(torch.zeros(1, dtype=torch.float64))) == 0.0
    # h'(0) = α e from both sides (central difference), h'(x) = α/(|x| + c0) elsewhere (autograd)
    eps = 1e-7
    d0 = (log_activation(torch.tensor(eps, dtype=torch.float64))
          - log_activation(torch.tensor(-eps, dtype=torch.float64))) / (2 * eps)
    assert float(d0) == pytest.approx(0.2 * math.e, rel=1e-6)
    xs = torch.tensor([-3.0, -0.5, 0.0, 0.25, 7.0], dtype=torch.float64, requires_grad=True)
    log_activation(xs, 0.5).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), 0.5 / (np.abs(xs.detach().numpy()) + math.exp(-1)), rtol=1e-12)
    assert torch.autograd.gradcheck(lambda t: log_activation(t, 0.2), (xs.detach()[[0, 1, 3, 4]].requires_grad_(),))
    assert "alpha=0.5" in repr(LogActivation(0.5))


def expected_parameters(w: int, n_out: int = len(LABELS)) -> int:
    """Hand count of the pre-activated ResNet18 layout: stem 7×7, 4 stages × 2 blocks, BN, fc."""
    total = 49 * w  # stem, one input channel, no bias
    cin = w
    for c in (w, 2 * w, 4 * w, 8 * w):
        for b in range(2):
            cb = cin if b == 0 else c
            total += 2 * cb + 9 * cb * c + 2 * c + 9 * c * c  # BN, conv, BN, conv
            if cb != c:
                total += cb * c  # 1×1 projection shortcut
        cin = c
    return total + 2 * 8 * w + 8 * w * n_out + n_out


@pytest.mark.parametrize(("width", "act"), [(8, "log"), (16, "relu"), (64, "log")])
def test_layout_matches_resnet18(width, act):
    net = PreActResNet18(ClassifierModelConfig(base_width=width, first_activation=act))
    assert n_parameters(net) == expected_parameters(width)
    blocks = [m for m in net.blocks if isinstance(m, PreActBlock)]
    assert len(blocks) == 8
    assert [b.conv1.stride[0] for b in blocks] == [1, 1, 2, 1, 2, 1, 2, 1]
    assert [b.conv2.out_channels for b in blocks] == [width] * 2 + [2 * width] * 2 + [4 * width] * 2 + [8 * width] * 2
    assert net.stem.kernel_size == (7, 7) and net.stem.stride == (2, 2)
    assert isinstance(net.first_act, LogActivation if act == "log" else torch.nn.LeakyReLU)
    if act == "relu":
        assert net.first_act.negative_slope == pytest.approx(0.2)


@pytest.mark.parametrize("shape", [(128, 128), (48, 48), (40, 72)])
def test_output_shape_and_downsampling(shape):
    torch.manual_seed(0)
    net = PreActResNet18(ClassifierModelConfig(base_width=8)).eval()
    x = torch.rand(3, *shape) * 100
    with torch.no_grad():
        out = net(x)
        feat = net.blocks(net.pool(net.first_act(net.stem(x[:, None]))))
    assert out.shape == (3, len(LABELS))
    # stem /2, pool /2, stages 2-4 /2 each: /32 overall (rounded up by the paddings)
    assert feat.shape[1:] == (64, math.ceil(shape[0] / 32), math.ceil(shape[1] / 32))
    assert torch.isfinite(out).all()


def test_input_scale_is_a_fixed_divisor():
    cfg = ClassifierModelConfig(base_width=8)
    torch.manual_seed(1)
    a = PreActResNet18(cfg, input_scale=250.0).eval()
    b = PreActResNet18(cfg, input_scale=1.0).eval()
    state = {k: v for k, v in a.state_dict().items() if k != "input_scale"}
    b.load_state_dict(state, strict=False)
    x = torch.rand(2, 64, 64) * 1000
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x / 250.0), rtol=1e-5, atol=1e-5)
    assert float(a.state_dict()["input_scale"]) == 250.0  # saved with the weights
    with pytest.raises(ValueError, match="input_scale"):
        PreActResNet18(cfg, input_scale=0.0)
