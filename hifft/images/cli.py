"""``hifft images``: compress and decompress scattering images with a trained codec; train one.

Registered by :func:`register` (``"hifft.images.cli"`` in ``_SUBCOMMANDS`` of hifft/cli.py).
torch is imported only inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
images_app = typer.Typer(
    name="images",
    help="Learned compression of 2D scattering images: codecs with real bitstreams, rate–distortion training.",
    no_args_is_help=True,
)

#: the shipped codec: mean–scale hyperprior for 256 × 256 GISAXS images (pipelines/gisaxs_codec.yaml's
#: detector window), clean → clean; `make image-codecs` retrains it and its record lies beside it
DEFAULT_MODEL = Path(__file__).parent / "models" / "gisaxs_msh.pt"
ModelOpt = Annotated[Path, typer.Option(
    "--model", help="Trained codec (model.pt of `hifft images train`); default: the shipped GISAXS codec.")]


def _read_images(inp: Path, bundle: Any, split: str | None, variable: str, max_images: int | None,
                 mask: Path | None) -> tuple[Any, Any]:
    """(intensities, mask or None) from a .npy file or a GISAXS dataset store."""
    import numpy as np

    if inp.is_dir():
        from .data import load_images

        s = load_images(inp, split, bundle.scale.size, bundle.scale.crop, max_images)
        if variable == "I":
            return s.intensity, None
        if variable == "counts":
            return s.noisy_intensity(), s.mask
        raise ValueError(f"--variable: I or counts, got {variable!r}")
    if not inp.is_file():
        raise FileNotFoundError(f"{inp}: no such file or dataset store")
    if inp.suffix != ".npy":
        raise ValueError(f"{inp}: images are read from .npy files ((H, W) or (N, H, W) intensities) or "
                         f"GISAXS dataset stores")
    arr = np.load(inp)
    if max_images is not None and arr.ndim == 3:
        arr = arr[:max_images]
    if mask is not None:
        return arr, np.load(mask)
    if np.any(arr < 0):  # detector conventions: −1 gap, −2 dead pixel (other negatives are refused)
        from .preprocess import split_counts

        return split_counts(arr, str(inp))
    return arr, None


@images_app.command("compress")
def compress_cmd(
    inp: Annotated[Path, typer.Argument(help="Intensities: a .npy (H, W) or (N, H, W), or a GISAXS store.")],
    out: Annotated[Path, typer.Argument(help="Bitstream file to write (one frame per image).")],
    model: ModelOpt = DEFAULT_MODEL,
    split: Annotated[str | None, typer.Option(help="Split of a dataset store: train, val or test.")] = None,
    variable: Annotated[str, typer.Option(help="Of a dataset store: I (clean) or counts (noisy, with gaps).")] = "I",
    mask: Annotated[Path | None, typer.Option(
        help="A .npy mask for .npy input: 1 where measured (default: pixels at −1 gap / −2 dead are missing).")] = None,
    max_images: Annotated[int | None, typer.Option(help="Compress at most this many images.")] = None,
) -> None:
    """Compress images to a bitstream (bpp counted from the bytes written)."""
    from ..atomic import atomic_write
    from .bundle import load_bundle
    from .entropy import compress_images

    bundle = load_bundle(model)
    images, m = _read_images(inp, bundle, split, variable, max_images, mask)
    frames = compress_images(bundle, images, m, what=str(inp))
    data = b"".join(frames)
    atomic_write(out, data)
    rows, cols = bundle.scale.size
    bpp = 8 * len(data) / (len(frames) * rows * cols)
    console.print(f"{out}: {len(frames)} image(s) of {rows}×{cols} in {len(data)} bytes, {bpp:.4f} bpp "
                  f"(model '{bundle.name}' version {bundle.version})", highlight=False)


@images_app.command("decompress")
def decompress_cmd(
    inp: Annotated[Path, typer.Argument(help="Bitstream file of `hifft images compress`.")],
    out: Annotated[Path, typer.Argument(help="Decoded intensities (.npy, (N, H, W) float32).")],
    model: ModelOpt = DEFAULT_MODEL,
) -> None:
    """Decode a bitstream to intensities (the model's preprocessing inverted)."""
    import numpy as np

    from ..atomic import atomic_path
    from .bundle import load_bundle
    from .entropy import decompress_images

    if not inp.is_file():
        raise FileNotFoundError(f"{inp}: bitstream file not found")
    bundle = load_bundle(model)
    images = decompress_images(bundle, inp.read_bytes())
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.save(f, images)
    console.print(f"{out}: {len(images)} image(s) of {images.shape[1]}×{images.shape[2]}", highlight=False)


@images_app.command("train")
def train_cmd(
    config: Annotated[Path, typer.Argument(help="YAML job file (pipelines/images_codec.yaml).")],
) -> None:
    """Train (or resume) a codec under the job's wall-clock budget; writes model.pt and model.json."""
    from .config import load
    from .train import train

    train(load(config), log=lambda s: console.print(s, highlight=False))


def register(app: typer.Typer) -> None:
    """Add the ``images`` sub-app to the ``hifft`` command."""
    app.add_typer(images_app, name="images")
