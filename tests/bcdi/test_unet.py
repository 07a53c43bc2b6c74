"""The inpainting U-Net: shapes in 2D/3D at any size, dilations, parameter counts, the model file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hifft.bcdi.inpaint_config import load  # noqa: E402
from hifft.bcdi.unet import (  # noqa: E402
    DilatedBlock,
    InpaintModel,
    InpaintUNet,
    load_model,
    n_parameters,
    save_model,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("dims", "shape"),
    [
        (2, (32, 32)),  # a power of two
        (2, (17, 23)),  # odd sizes: padded inside, cropped back
        (2, (1, 9)),  # thinner than one pooling step
        (3, (16, 16, 16)),
        (3, (9, 13, 20)),
        (3, (5, 7, 3)),
    ],
)
def test_output_shape_matches_input(dims, shape):
    net = InpaintUNet(dims, widths=(4, 8, 8), dilations=((2, 1),))
    x = torch.randn(2, 2, *shape)
    assert net(x).shape == (2, 1, *shape)


def test_refuses_bad_dims_and_inputs():
    with pytest.raises(ValueError, match="dims"):
        InpaintUNet(4)
    with pytest.raises(ValueError, match="dilations"):
        InpaintUNet(2, widths=(4,), dilations=((1,), (2,)))
    net = InpaintUNet(3, widths=(4, 8), dilations=((1,),))
    with pytest.raises(ValueError, match="3 spatial axes"):
        net(torch.zeros(1, 2, 8, 8))


def _reach(block: torch.nn.Module, n: int = 31) -> int:
    """Largest offset along the last axis at which the input changes the centre output."""
    x = torch.zeros(1, 1, n, n, requires_grad=True)
    block(x)[0, :, n // 2, n // 2].sum().backward()
    assert x.grad is not None
    col = x.grad[0, 0, n // 2].abs()
    return int(np.flatnonzero(col.numpy() > 0).max() - n // 2)


def test_dilated_block_reaches_as_far_as_its_largest_rate():
    torch.manual_seed(0)
    # a 3-wide conv at dilation 4 reaches ±4, the fusing 3-wide conv one more
    assert _reach(DilatedBlock(2, 1, 4, (4, 1))) == 5
    assert _reach(DilatedBlock(2, 1, 4, (1,))) == 2


def test_parameter_count_by_hand():
    # 2 branches of 2→2 channels (3×3 + bias) and a fusing conv (2 + 2·2)→4 (3×3 + bias)
    block = DilatedBlock(2, 2, 4, (1, 2))
    assert n_parameters(block) == 2 * (2 * 2 * 9 + 2) + (6 * 4 * 9 + 4)


@pytest.mark.parametrize("name", ["bcdi_inpaint_2d.yaml", "bcdi_inpaint_3d.yaml"])
def test_shipped_configs_fit_the_10_mb_budget(name):
    m = load(ROOT / "pipelines" / name, environ={}).train.model
    net = InpaintUNet(m.dims, m.widths, m.dilations, in_channels=3 if m.residual else 2, residual=m.residual)
    assert n_parameters(net) * 4 <= 10e6


def test_model_file_round_trip(tmp_path):
    torch.manual_seed(1)
    net = InpaintUNet(3, widths=(4, 8), dilations=((2, 1),))
    path = save_model(tmp_path / "m.pt", InpaintModel(net, 16, 2, 6, 1e5, {"note": "test"}))
    back = load_model(path)
    assert (back.dims, back.patch, back.margin, back.stride, back.peak) == (3, 16, 2, 6, 1e5)
    assert back.meta == {"note": "test"}
    x = torch.randn(1, 2, 10, 12, 14)
    with torch.no_grad():
        assert torch.equal(back.net(x), net.eval()(x))


def test_model_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.pt"):
        load_model(tmp_path / "nope.pt")
    other = tmp_path / "other.pt"
    torch.save({"format": "something/1"}, other)
    with pytest.raises(ValueError, match=r"other\.pt.*not an inpainting model"):
        load_model(other)
    junk = tmp_path / "junk.pt"
    junk.write_text("not a torch file")
    with pytest.raises(ValueError, match=r"junk\.pt"):
        load_model(junk)


def test_bfloat16_autocast_is_close_to_float32_and_kept_in_the_file(tmp_path):
    from hifft.bcdi.unet import autocast

    torch.manual_seed(2)
    net = InpaintUNet(3, widths=(4, 8), dilations=((2, 1),)).eval()
    x = torch.rand(2, 2, 12, 12, 12)
    with torch.no_grad():
        ref = net(x)
        with autocast("bfloat16"):
            low = net(x)
    assert low.dtype == torch.float32  # the head runs in float32
    assert float((low - ref).abs().max()) < 0.02 * float(ref.abs().max())
    with pytest.raises(ValueError, match="precision"):
        autocast("float16")
    path = save_model(tmp_path / "b.pt", InpaintModel(net, 16, 2, 6, 1e5, precision="bfloat16"))
    assert load_model(path).precision == "bfloat16"


def test_an_untrained_residual_model_returns_its_estimate_and_round_trips(tmp_path):
    torch.manual_seed(3)
    net = InpaintUNet(3, widths=(4, 8), dilations=((2, 1),), in_channels=3, residual=True).eval()
    x = torch.rand(2, 3, 10, 12, 13)
    with torch.no_grad():
        np.testing.assert_array_equal(net(x).numpy(), x[:, 2:3].numpy())  # the head starts at zero
    net.head.bias.data.fill_(0.25)
    back = load_model(save_model(tmp_path / "r.pt", InpaintModel(net, 16, 2, 6, 1e5))).net
    assert back.residual and back.arch["in_channels"] == 3
    with torch.no_grad():
        torch.testing.assert_close(back(x), x[:, 2:3] + 0.25)
    with pytest.raises(ValueError, match="residual: needs in_channels 3"):
        InpaintUNet(3, widths=(4,), dilations=(), residual=True)
