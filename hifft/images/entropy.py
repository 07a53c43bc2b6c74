"""Real bitstreams: quantised latents range-coded with ``constriction``.

One image is one *frame*; frames can be concatenated (a file of N images is N frames).

Frame layout (all integers little-endian)::

    b"HFC"  format (1 byte)  len(name) (1 byte)  name (UTF-8)  version (8 bytes)
    rows, cols (2 × uint16)  payload words (LEB128 varint)  payload (uint32 words)

The payload is one range-coder stream (constriction's ``RangeEncoder``, 32-bit words):

- factorized prior: ŷ per channel with the model's quantised CDF table; a symbol
  outside a channel's table is an escape followed by its value, uniform over
  [−``LATENT_LIMIT``, ``LATENT_LIMIT``);
- hyperpriors: ẑ as above, then ŷ with a quantised Gaussian of mean μ and scale σ
  from the hyper-synthesis of ẑ.

Encoder and decoder must use identical entropy parameters. The CDF tables are
integers frozen into the model file (:mod:`hifft.images.bundle`); μ and σ are computed
by the same per-image float64 code on both sides and then quantised: σ to one of 64
log-spaced scales (:data:`SCALE_TABLE`), μ to multiples of :data:`MEAN_STEP`. Every bit
is counted: bpp = 8 · len(frame) / pixels, header included.
"""

from __future__ import annotations

import copy
import struct
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .codecs import LATENT_LIMIT, SCALE_MIN, FactorizedDensity, Hyperprior, ImageCodec
from .preprocess import ImageError, as_stack, check_intensities, masked_input

if TYPE_CHECKING:
    from .bundle import CodecBundle

MAGIC = b"HFC"
FRAME_FORMAT = 1
#: σ levels of the Gaussian conditional (64, log-spaced from SCALE_MIN to 256, as in CompressAI)
SCALE_TABLE = np.exp(np.linspace(np.log(SCALE_MIN), np.log(256.0), 64))
_DLOG = float(np.log(SCALE_TABLE[1] / SCALE_TABLE[0]))
#: μ is coded as a multiple of this
MEAN_STEP = 1.0 / 16
#: precision of the frozen CDF tables (counts per channel sum to about this)
TABLE_TOTAL = 1 << 16
#: tail mass left outside a channel's table (coded through the escape symbol)
TABLE_TAIL = 1e-6
TABLE_MAX_WIDTH = 1024


class BitstreamError(ValueError):
    """A bitstream that cannot be decoded: not ours, truncated, or from another model version."""


# ---------------------------------------------------------------------------
# frozen tables and quantised parameters
# ---------------------------------------------------------------------------


def factorized_tables(density: FactorizedDensity, tail: float = TABLE_TAIL,
                      max_width: int = TABLE_MAX_WIDTH) -> dict[str, np.ndarray]:
    """Integer CDF tables of a factorized density: ``lo`` (C,), ``width`` (C,), ``counts`` (C, max width + 1).

    Channel c codes symbols lo … lo + width − 1 with counts[c, :width]; counts[c, width] is
    the escape. Counts are the bin masses × :data:`TABLE_TOTAL`, at least 1.
    """
    d = copy.deepcopy(density).double()
    n_ch = d.matrices[0].shape[0]
    lim = LATENT_LIMIT
    edges = torch.arange(-lim, lim + 1, dtype=torch.float64) - 0.5  # lower edge of k = −lim … lim
    with torch.no_grad():
        cdf = torch.sigmoid(d.cumulative_logits(edges.expand(n_ch, 1, -1)))[:, 0].numpy()
    lo = np.empty(n_ch, dtype=np.int64)
    width = np.empty(n_ch, dtype=np.int64)
    pmfs = []
    for c in range(n_ch):
        f = cdf[c]
        below = np.flatnonzero(f <= tail)
        above = np.flatnonzero(f >= 1 - tail)
        i0 = int(below[-1]) if below.size else 0  # edge index of the lowest symbol's lower edge
        i1 = int(above[0]) if above.size else 2 * lim  # edge index of the highest symbol's upper edge
        i1 = max(i1, i0 + 1)
        if i1 - i0 > max_width:
            med = int(np.searchsorted(f, 0.5))
            i0 = max(0, min(med - max_width // 2, 2 * lim - max_width))
            i1 = i0 + max_width
        pmf = np.diff(f[i0:i1 + 1])
        esc = f[i0] + 1 - f[i1]
        lo[c], width[c] = i0 - lim, i1 - i0
        pmfs.append(np.append(pmf, esc))
    counts = np.zeros((n_ch, int(width.max()) + 1), dtype=np.int64)
    for c, p in enumerate(pmfs):
        counts[c, :len(p)] = np.maximum(1, np.round(np.clip(p, 0, None) * TABLE_TOTAL))
    return {"lo": lo, "width": width, "counts": counts}


def model_tables(model: ImageCodec) -> dict[str, dict[str, np.ndarray]]:
    """The frozen tables of a model's factorized densities ({"y": ...} or {"z": ...})."""
    if isinstance(model, Hyperprior):
        return {"z": factorized_tables(model.density_z)}
    return {"y": factorized_tables(model.density_y)}  # type: ignore[arg-type]


def quantize_parameters(scale: np.ndarray, mean: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(σ from :data:`SCALE_TABLE`, μ as a multiple of :data:`MEAN_STEP`) as float64 arrays."""
    s = np.asarray(scale, dtype=np.float64)
    idx = np.clip(np.round((np.log(np.maximum(s, SCALE_MIN)) - np.log(SCALE_MIN)) / _DLOG), 0, len(SCALE_TABLE) - 1)
    m = np.zeros_like(s) if mean is None else np.round(np.asarray(mean, dtype=np.float64) / MEAN_STEP) * MEAN_STEP
    return SCALE_TABLE[idx.astype(np.int64)], m


def side_parameters(bundle: CodecBundle, z_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantised (σ, μ) of ŷ for one image from its ẑ (C_z, h, w): float64, the same code on both sides."""
    side = bundle.side_model()
    if not isinstance(side, Hyperprior):
        raise TypeError(f"{bundle.name}: a {side.kind} codec has no hyperprior")
    with torch.no_grad():
        s, m = side.entropy_parameters(torch.from_numpy(np.asarray(z_hat, dtype=np.float64)[None]))
    return quantize_parameters(s[0].numpy(), None if m is None else m[0].numpy())


# ---------------------------------------------------------------------------
# analysis / synthesis
# ---------------------------------------------------------------------------


def analyse(bundle: CodecBundle, x: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Quantised latents per image ({"y": int64 (M, h, w)[, "z": ...]}) of model inputs (N, C, H, W)."""
    model = bundle.model
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    model.check_input(t)
    lim = LATENT_LIMIT
    with torch.no_grad():
        y = model.g_a(t)
        out: dict[str, Any] = {"y": torch.round(y).clamp(-lim, lim - 1)}
        if isinstance(model, Hyperprior):
            out["z"] = torch.round(model.h_a(model.hyper_input(y))).clamp(-lim, lim - 1)
    return [{k: v[i].numpy().astype(np.int64) for k, v in out.items()} for i in range(len(t))]


def synthesise(bundle: CodecBundle, y_hat: list[np.ndarray]) -> np.ndarray:
    """Decoded normalised images (N, H, W) from ŷ, one image at a time (so the result does not
    depend on how many images are decoded together)."""
    with torch.no_grad():
        out = [bundle.model.g_s(torch.from_numpy(y.astype(np.float32))[None])[0, 0].numpy() for y in y_hat]
    return np.stack(out)


def estimate_bits(bundle: CodecBundle, x: np.ndarray) -> np.ndarray:
    """The model's own rate estimate (bits per image, Σ −log2 p of the rounded latents)."""
    with torch.no_grad():
        out = bundle.model.eval()(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        return bundle.model.bits(out["likelihoods"]).numpy().astype(np.float64)


# ---------------------------------------------------------------------------
# range coding
# ---------------------------------------------------------------------------


def _models() -> Any:
    import constriction

    return constriction.stream.model, constriction.stream.queue


def _encode_factorized(enc: Any, v: np.ndarray, tab: dict[str, np.ndarray]) -> None:
    model, _ = _models()
    esc_model = model.Uniform(2 * LATENT_LIMIT)
    for c in range(v.shape[0]):
        lo, w = int(tab["lo"][c]), int(tab["width"][c])
        idx = v[c] - lo
        esc = (idx < 0) | (idx >= w)
        cat = model.Categorical(tab["counts"][c, :w + 1].astype(np.float64), perfect=False)
        enc.encode(np.where(esc, w, idx).astype(np.int32), cat)
        if esc.any():
            enc.encode((v[c][esc] + LATENT_LIMIT).astype(np.int32), esc_model)


def _decode_factorized(dec: Any, tab: dict[str, np.ndarray], n: int) -> np.ndarray:
    model, _ = _models()
    esc_model = model.Uniform(2 * LATENT_LIMIT)
    out = np.empty((len(tab["lo"]), n), dtype=np.int64)
    for c in range(len(out)):
        lo, w = int(tab["lo"][c]), int(tab["width"][c])
        cat = model.Categorical(tab["counts"][c, :w + 1].astype(np.float64), perfect=False)
        sym = np.asarray(dec.decode(cat, n), dtype=np.int64)
        esc = sym == w
        vals = sym + lo
        if esc.any():
            vals[esc] = np.asarray(dec.decode(esc_model, int(esc.sum())), dtype=np.int64) - LATENT_LIMIT
        out[c] = vals
    return out


def _gaussian() -> Any:
    model, _ = _models()
    return model.QuantizedGaussian(-LATENT_LIMIT, LATENT_LIMIT - 1)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def header(name: str, version: str, shape: tuple[int, int], n_words: int) -> bytes:
    """The frame header (see the module docstring)."""
    nb = name.encode()
    return (MAGIC + bytes([FRAME_FORMAT, len(nb)]) + nb + bytes.fromhex(version)
            + struct.pack("<HH", *shape) + _varint(n_words))


def latent_shape(bundle: CodecBundle, shape: tuple[int, int], key: str) -> tuple[int, int, int]:
    """(channels, rows, cols) of latent ``key`` ("y" or "z") for an image of ``shape``."""
    m = bundle.model
    f = 16 if key == "y" else m.stride
    ch = m.m if key == "y" else m.n
    return ch, shape[0] // f, shape[1] // f


def compress(bundle: CodecBundle, x: np.ndarray) -> list[bytes]:
    """One frame per model input (N, C, H, W) (normalised images, with the mask channel if the model has one)."""
    _, queue = _models()
    x = np.asarray(x, dtype=np.float32)
    shape = (int(x.shape[-2]), int(x.shape[-1]))
    if max(shape) >= 1 << 16:
        raise ImageError(f"images of {shape[0]}×{shape[1]} pixels are too large for a frame (< 65536 per side)")
    frames = []
    for lat in analyse(bundle, x):
        enc = queue.RangeEncoder()
        y = lat["y"].reshape(lat["y"].shape[0], -1)
        if "z" in lat:
            _encode_factorized(enc, lat["z"].reshape(lat["z"].shape[0], -1), bundle.tables["z"])
            s, m = side_parameters(bundle, lat["z"])
            enc.encode(y.ravel().astype(np.int32), _gaussian(), m.ravel(), s.ravel())
        else:
            _encode_factorized(enc, y, bundle.tables["y"])
        words = np.asarray(enc.get_compressed(), dtype="<u4")
        frames.append(header(bundle.name, bundle.version, shape, len(words)) + words.tobytes())
    return frames


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(data):
            raise IndexError
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos
        if shift > 35:
            raise BitstreamError("frame header: payload length is not a valid varint")


def read_frame(data: bytes, pos: int = 0, index: int = 0) -> tuple[dict[str, Any], np.ndarray, int]:
    """Parse frame ``index`` at byte ``pos``: (header, payload words, position after the frame)."""
    start = pos
    try:
        if data[pos:pos + 3] != MAGIC:
            raise BitstreamError(f"frame {index} at byte {start}: not an hifft image bitstream "
                                 f"(starts with {bytes(data[pos:pos + 3])!r}, expected {MAGIC!r})")
        fmt, n_name = data[pos + 3], data[pos + 4]
        if fmt != FRAME_FORMAT:
            raise BitstreamError(f"frame {index}: bitstream format {fmt}; this hifft reads format {FRAME_FORMAT}")
        pos += 5
        name = bytes(data[pos:pos + n_name]).decode()
        pos += n_name
        ver = bytes(data[pos:pos + 8])
        rows, cols = struct.unpack("<HH", data[pos + 8:pos + 12])
        if len(ver) < 8:
            raise IndexError
        n_words, pos = _read_varint(data, pos + 12)
    except (IndexError, struct.error, UnicodeDecodeError):
        raise BitstreamError(f"truncated bitstream: frame {index} header at byte {start} is cut off "
                             f"({len(data) - start} bytes left)") from None
    end = pos + 4 * n_words
    if end > len(data):
        raise BitstreamError(f"truncated bitstream: frame {index} needs {end - start} bytes from byte {start}, "
                             f"only {len(data) - start} remain")
    words = np.frombuffer(data, dtype="<u4", count=n_words, offset=pos).astype(np.uint32)
    return {"name": name, "version": ver.hex(), "shape": (rows, cols)}, words, end


def decode_latents(bundle: CodecBundle, data: bytes) -> list[dict[str, np.ndarray]]:
    """The quantised latents of every frame in ``data`` (refuses another model's frames)."""
    _, queue = _models()
    out = []
    pos = index = 0
    data = bytes(data)
    if not data:
        raise BitstreamError("empty bitstream")
    while pos < len(data):
        head, words, pos = read_frame(data, pos, index)
        if (head["name"], head["version"]) != (bundle.name, bundle.version):
            raise BitstreamError(
                f"frame {index} was written by model '{head['name']}' version {head['version']}; this model "
                f"'{bundle.name}' is version {bundle.version}: decode it with the model that wrote it")
        rows, cols = head["shape"]
        dec = queue.RangeDecoder(words)
        lat: dict[str, np.ndarray] = {}
        if "z" in bundle.tables:
            cz, hz, wz = latent_shape(bundle, (rows, cols), "z")
            lat["z"] = _decode_factorized(dec, bundle.tables["z"], hz * wz).reshape(cz, hz, wz)
            s, m = side_parameters(bundle, lat["z"])
            y = np.asarray(dec.decode(_gaussian(), m.ravel(), s.ravel()), dtype=np.int64)
            lat["y"] = y.reshape(s.shape)
        else:
            cy, hy, wy = latent_shape(bundle, (rows, cols), "y")
            lat["y"] = _decode_factorized(dec, bundle.tables["y"], hy * wy).reshape(cy, hy, wy)
        out.append(lat)
        index += 1
    return out


def decompress(bundle: CodecBundle, data: bytes) -> np.ndarray:
    """Decoded normalised images (N, H, W) of all frames in ``data``."""
    return synthesise(bundle, [lat["y"] for lat in decode_latents(bundle, data)])


def split_frames(data: bytes) -> list[bytes]:
    """The frames of a concatenated bitstream, each as its own bytes."""
    out: list[bytes] = []
    pos, data = 0, bytes(data)
    while pos < len(data):
        _, _, end = read_frame(data, pos, len(out))
        out.append(data[pos:end])
        pos = end
    return out


# ---------------------------------------------------------------------------
# intensities in, intensities out
# ---------------------------------------------------------------------------


def model_input(bundle: CodecBundle, intensity: Any, mask: Any = None, what: str = "images") -> np.ndarray:
    """Model inputs (N, C, H, W) from intensities: cropped, checked, normalised, masked pixels at 0.

    ``mask`` (True where measured) broadcasts against the images; pixels outside it are ignored.
    """
    scale = bundle.scale
    a = scale.crop_images(intensity, what)
    m = None
    if mask is not None:
        m = scale.crop_images(np.broadcast_to(np.asarray(mask, dtype=np.float32), as_stack(intensity).shape),
                              f"{what} mask") > 0
        a = np.where(m, a, 0.0).astype(np.float32)
    check_intensities(a, what)
    return masked_input(scale.normalise(a), m, bundle.mask_channel)


def compress_images(bundle: CodecBundle, intensity: Any, mask: Any = None, what: str = "images") -> list[bytes]:
    """Frames of intensity images (see :func:`model_input`)."""
    return compress(bundle, model_input(bundle, intensity, mask, what))


def decompress_images(bundle: CodecBundle, data: bytes) -> np.ndarray:
    """Decoded intensities (N, H, W) float32 (the model's inverse preprocessing applied)."""
    return bundle.scale.inverse(decompress(bundle, data))


__all__ = ["FRAME_FORMAT", "MAGIC", "MEAN_STEP", "SCALE_TABLE", "BitstreamError", "analyse", "compress",
           "compress_images", "decode_latents", "decompress", "decompress_images", "estimate_bits",
           "factorized_tables", "header", "latent_shape", "model_input", "model_tables", "quantize_parameters",
           "read_frame", "side_parameters", "split_frames", "synthesise"]
