"""Imported densities: files, periodic tiling and Fourier up-sampling, read slab by slab.

Each function returns a lazy :class:`~hifft.volume.Volume`; nothing is read
until a slab is asked for, so ``build_volume(read_tiff(...), "rho.zarr")``
streams a stack bigger than memory into a store. Values become contrast as
``raw · scale − sld_solvent`` (1e-6/Å²); every slab read is checked for
non-finite values, and errors name the file and slab.

- :func:`read_npy` (memory-mapped), :func:`read_hdf5` (one dataset),
  :func:`read_tiff` (a z-stack: one page per plane), :func:`read_chgcar`
  (VASP; electron density → X-ray SLD), :func:`read_density` (by extension).
- :func:`tile` repeats a periodic unit cell; :func:`upsample` interpolates a
  coarse periodic density onto a finer grid of the same box by zero-padding
  its spectrum (trigonometric interpolation, exact for band-limited data),
  one output slab at a time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..grid import Grid
from .chgcar import read_chgcar_file
from .readers import ArrayReader, SlabReader
from .validate import VolumeError, check_finite, check_shape, volume_dtype
from .volume import Volume

#: Largest coarse density :func:`upsample` holds (with its complex spectrum) in memory.
UPSAMPLE_MAX_BYTES = 2 * 2**30


class _FileReader(SlabReader):
    """A file read by slabs, with the linear map raw·scale − offset."""

    fmt = "file"

    def __init__(self, path: str | os.PathLike[str], scale: float, offset: float) -> None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: file not found")
        self.path = str(p.resolve())
        self.scale, self.offset = float(scale), float(offset)
        st = p.stat()
        self._stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def _map(self, raw: np.ndarray) -> np.ndarray:
        if self.scale == 1.0 and self.offset == 0.0:
            return raw
        return raw.astype(np.float64) * self.scale - self.offset

    @property
    def where(self) -> str:
        return self.path

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.fmt,
            "path": self.path,
            "scale": self.scale,
            "sld_solvent": self.offset,
            **self._stamp,
        }


class NpyReader(_FileReader):
    fmt = "npy"

    def __init__(
        self, path: str | os.PathLike[str], scale: float = 1.0, offset: float = 0.0
    ) -> None:
        super().__init__(path, scale, offset)
        try:
            mm = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise VolumeError(f"{self.path}: not a readable .npy array ({exc})") from exc
        self.shape = check_shape(mm.shape, self.path)
        volume_dtype(mm.dtype, self.path)
        self.dtype = mm.dtype  # the linear map runs in float64; the Volume casts

    def read(self, z0: int, z1: int) -> np.ndarray:
        mm = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return self._map(np.array(mm[z0:z1]))


class Hdf5Reader(_FileReader):
    fmt = "hdf5"

    def __init__(
        self, path: str | os.PathLike[str], dataset: str, scale: float = 1.0, offset: float = 0.0
    ) -> None:
        import h5py

        super().__init__(path, scale, offset)
        self.dataset = dataset
        try:
            with h5py.File(self.path, "r") as f:
                if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
                    names: list[str] = []
                    f.visititems(
                        lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None
                    )
                    raise VolumeError(
                        f"{self.path}: no dataset {dataset!r}; datasets here: {names[:20]}"
                    )
                ds = f[dataset]
                shape, dtype = ds.shape, ds.dtype
        except OSError as exc:
            raise VolumeError(f"{self.path}: not a readable HDF5 file ({exc})") from exc
        where = f"{self.path}:{dataset}"
        self.shape = check_shape(shape, where)
        volume_dtype(dtype, where)
        self.dtype = np.dtype(dtype)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.dataset}"

    def read(self, z0: int, z1: int) -> np.ndarray:
        import h5py

        with h5py.File(self.path, "r") as f:
            return self._map(f[self.dataset][z0:z1])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "dataset": self.dataset}


class TiffReader(_FileReader):
    fmt = "tiff"

    def __init__(
        self, path: str | os.PathLike[str], scale: float = 1.0, offset: float = 0.0
    ) -> None:
        import tifffile

        super().__init__(path, scale, offset)
        try:
            with tifffile.TiffFile(self.path) as tif:
                series = tif.series[0]
                shape, dtype, pages = series.shape, series.dtype, len(series)
        except (tifffile.TiffFileError, OSError, IndexError) as exc:
            raise VolumeError(f"{self.path}: not a readable TIFF ({exc})") from exc
        self.shape = check_shape(shape, f"{self.path} (TIFF stack: pages × height × width)")
        if pages != self.shape[0]:
            raise VolumeError(
                f"{self.path}: {pages} pages for {self.shape[0]} planes; expected one page per z"
            )
        volume_dtype(dtype, self.path)
        self.dtype = np.dtype(dtype)

    def read(self, z0: int, z1: int) -> np.ndarray:
        import tifffile

        data = tifffile.imread(self.path, key=range(z0, z1))
        return self._map(data.reshape(z1 - z0, *self.shape[1:]))


class ChgcarReader(ArrayReader):
    """A parsed CHGCAR (held in memory: CHGCAR grids are small)."""

    def __init__(self, data: np.ndarray, description: dict[str, Any]) -> None:
        super().__init__(data, description["path"])
        self.description = description

    @property
    def where(self) -> str:
        return str(self.description["path"])

    def describe(self) -> dict[str, Any]:
        return self.description


class TiledReader(SlabReader):
    """A periodic unit cell repeated ``reps`` = (rz, ry, rx) times."""

    def __init__(self, cell: Volume, reps: tuple[int, int, int]) -> None:
        self.cell, self.reps = cell, reps
        self.shape = tuple(n * r for n, r in zip(cell.shape, reps, strict=True))  # type: ignore[assignment]
        self.dtype = cell.dtype
        self.check_finite = False  # the cell's own reads are checked

    def read(self, z0: int, z1: int) -> np.ndarray:
        nz = self.cell.shape[0]
        rows = np.arange(z0, z1) % nz
        lo, hi = int(rows.min()), int(rows.max()) + 1
        block = self.cell.slab(lo, hi)[rows - lo]
        return np.tile(block, (1, self.reps[1], self.reps[2]))

    @property
    def where(self) -> str:
        return f"tile of {self.cell.reader.where}"

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "tile",
            "reps": list(self.reps),
            "cell": self.cell.attrs.get("source"),
            "cell_grid": self.cell.grid.to_dict(),
        }


class FourierReader(SlabReader):
    """Trigonometric interpolation of a coarse periodic density onto a finer grid of the same box.

    Voxel centres stay where they are physically: fine voxel j of N along an
    axis of n coarse voxels sits at coarse index t = (j + ½)·n/N − ½. The
    coarse spectrum (numpy FFT, Nyquist terms split evenly between ±n/2 so the
    interpolant is real) is evaluated at those t: by an explicit sum over the
    coarse k_z for the slab's rows, then by zero-padded inverse FFTs along y, x.
    """

    def __init__(self, coarse: Volume, shape: tuple[int, int, int]) -> None:
        import scipy.fft

        if any(n > N for N, n in zip(shape, coarse.shape, strict=True)):
            raise VolumeError(
                f"upsample: target shape {shape} is smaller than {coarse.shape}; only up-sampling"
            )
        if coarse.nbytes * 5 > UPSAMPLE_MAX_BYTES:  # data + complex128 spectrum
            raise VolumeError(
                f"upsample: coarse density of {coarse.nbytes / 2**20:.0f} MiB is too large to hold"
            )
        self.coarse_shape = coarse.shape
        self.shape = shape
        self.dtype = coarse.dtype
        self.check_finite = False
        self.source = coarse.attrs.get("source")
        self.spec = scipy.fft.fftn(coarse.to_numpy().astype(np.float64))

    @staticmethod
    def _positions(n: int, big: int, j: np.ndarray) -> np.ndarray:
        return (j + 0.5) * n / big - 0.5

    @staticmethod
    def _pad(a: np.ndarray, axis: int, big: int) -> np.ndarray:
        """Zero-pad ``a``'s spectrum along ``axis`` to ``big``, shifted by the voxel offset."""
        n = a.shape[axis]
        s = 0.5 * n / big - 0.5  # fine voxel 0 sits at coarse index s
        k = np.fft.fftfreq(n, 1.0 / n)
        phase = np.exp(2j * np.pi * k * s / n)
        shape = [1] * a.ndim
        shape[axis] = n
        a = a * phase.reshape(shape)
        out_shape = list(a.shape)
        out_shape[axis] = big
        out = np.zeros(out_shape, dtype=np.complex128)
        pos = (n + 1) // 2  # k = 0 … ceil(n/2)−1
        neg = (n - 1) // 2  # k = −1 … −floor((n−1)/2)
        take = np.take
        idx = [slice(None)] * a.ndim
        idx[axis] = slice(0, pos)
        out[tuple(idx)] = take(a, np.arange(pos), axis=axis)
        if neg:
            idx[axis] = slice(big - neg, big)
            out[tuple(idx)] = take(a, np.arange(n - neg, n), axis=axis)
        if n % 2 == 0:  # Nyquist: split evenly between +n/2 and −n/2 (with each one's own phase)
            ny_ = take(a, [n // 2], axis=axis) / phase[n // 2]
            idx[axis] = slice(n // 2, n // 2 + 1)
            out[tuple(idx)] += 0.5 * ny_ * np.exp(1j * np.pi * s)
            idx[axis] = slice(big - n // 2, big - n // 2 + 1)
            out[tuple(idx)] += 0.5 * ny_ * np.exp(-1j * np.pi * s)
        return out

    def read(self, z0: int, z1: int) -> np.ndarray:
        import scipy.fft

        nz, ny, nx = self.coarse_shape
        NZ, NY, NX = self.shape
        t = self._positions(nz, NZ, np.arange(z0, z1))
        k = np.fft.fftfreq(nz, 1.0 / nz)
        basis = np.exp(2j * np.pi * np.outer(t, k) / nz)
        if nz % 2 == 0:
            basis[:, nz // 2] = np.cos(np.pi * t)
        a = np.tensordot(basis, self.spec, axes=(1, 0)) / nz  # (rows, ny, nx) spectrum in y, x
        a = scipy.fft.ifft(self._pad(a, 1, NY), axis=1) * (NY / ny)
        a = scipy.fft.ifft(self._pad(a, 2, NX), axis=2) * (NX / nx)
        return a.real

    @property
    def where(self) -> str:
        return "upsample"

    def describe(self) -> dict[str, Any]:
        return {"kind": "upsample", "coarse_shape": list(self.coarse_shape), "coarse": self.source}


# ---- public constructors -------------------------------------------------------
def _volume(reader: SlabReader, spacing: Any, dtype: Any, grid: Grid | None = None) -> Volume:
    if grid is None:
        if spacing is None:
            raise ValueError(f"{reader.where}: give spacing= (Å per voxel, or e.g. '2 nm')")
        grid = Grid(shape=reader.shape, spacing=spacing)
    return Volume(reader, grid, dtype=dtype)


def read_npy(
    path: str | os.PathLike[str],
    spacing: Any,
    *,
    sld_solvent: float = 0.0,
    scale: float = 1.0,
    dtype: Any = None,
) -> Volume:
    """A .npy array (z, y, x) of SLD values (1e-6/Å² after ``scale``), memory-mapped."""
    return _volume(NpyReader(path, scale, sld_solvent), spacing, dtype)


def read_hdf5(
    path: str | os.PathLike[str],
    dataset: str,
    spacing: Any = None,
    *,
    sld_solvent: float = 0.0,
    scale: float = 1.0,
    dtype: Any = None,
) -> Volume:
    """One HDF5 dataset (z, y, x); ``spacing`` defaults to the dataset's "spacing" attribute (Å)."""
    reader = Hdf5Reader(path, dataset, scale, sld_solvent)
    if spacing is None:
        import h5py

        with h5py.File(reader.path, "r") as f:
            spacing = f[dataset].attrs.get("spacing")
        if spacing is not None:
            spacing = [float(s) for s in np.atleast_1d(spacing)]
            spacing = spacing[0] if len(spacing) == 1 else spacing
    return _volume(reader, spacing, dtype)


def read_tiff(
    path: str | os.PathLike[str],
    spacing: Any,
    *,
    sld_solvent: float = 0.0,
    scale: float = 1.0,
    dtype: Any = None,
) -> Volume:
    """A TIFF z-stack (one page per plane) via tifffile."""
    return _volume(TiffReader(path, scale, sld_solvent), spacing, dtype)


def read_chgcar(
    path: str | os.PathLike[str],
    *,
    quantity: str = "xray_sld",
    sld_solvent: float = 0.0,
    dtype: Any = None,
) -> Volume:
    """A VASP CHGCAR's total charge density on its own grid (orthogonal cells only).

    ``quantity``: "xray_sld" (default: electron density × classical electron
    radius, 1e-6/Å²), "electron_density" (e/Å³) or "raw" (ρ·V_cell as written).
    """
    from scipy.constants import physical_constants

    c = read_chgcar_file(path)
    lat = c.lattice
    off = lat - np.diag(np.diag(lat))
    if np.abs(off).max() > 1e-6 * np.abs(lat).max() or np.any(np.diag(lat) <= 0):
        raise VolumeError(
            f"{path}: cell is not orthogonal and axis-aligned "
            f"(lattice rows {lat.round(6).tolist()}); "
            f"hifft grids are orthogonal: resample the density onto an orthogonal cell first"
        )
    density = c.data / c.cell_volume  # e/Å³
    if quantity == "xray_sld":
        r_e = physical_constants["classical electron radius"][0] * 1e10  # Å
        values = density * r_e * 1e6  # 1e-6/Å²
    elif quantity == "electron_density":
        values = density
    elif quantity == "raw":
        values = c.data
    else:
        raise ValueError(
            f"quantity: one of 'xray_sld', 'electron_density', 'raw', got {quantity!r}"
        )
    values = values - sld_solvent
    check_shape(values.shape, str(path))
    check_finite(values, str(path), 0)
    spacing = [
        lat[2, 2] / values.shape[0],
        lat[1, 1] / values.shape[1],
        lat[0, 0] / values.shape[2],
    ]
    st = Path(path).stat()
    desc = {
        "kind": "chgcar",
        "path": str(Path(path).resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "quantity": quantity,
        "sld_solvent": sld_solvent,
        "comment": c.comment,
        "species": c.species,
        "counts": c.counts,
        "lattice": c.lattice.tolist(),
        "electrons": float(c.data.sum() / c.data.size),
    }
    return _volume(ChgcarReader(values, desc), spacing, dtype)


def read_density(path: str | os.PathLike[str], spacing: Any = None, **kw: Any) -> Volume:
    """Read by file name: .npy, .h5/.hdf5 (``dataset=``), .tif/.tiff, CHGCAR/CHG/PARCHG/.vasp."""
    p = Path(path)
    name, suffix = p.name.upper(), p.suffix.lower()
    if suffix == ".npy":
        return read_npy(p, spacing, **kw)
    if suffix in (".h5", ".hdf5", ".hdf", ".nxs"):
        return read_hdf5(p, kw.pop("dataset"), spacing, **kw)
    if suffix in (".tif", ".tiff"):
        return read_tiff(p, spacing, **kw)
    if any(t in name for t in ("CHGCAR", "CHG", "PARCHG", "LOCPOT")) or suffix == ".vasp":
        return read_chgcar(p, **kw)
    raise VolumeError(f"{p}: unknown density format; use .npy, .h5, .tif or a VASP CHGCAR")


def tile(cell: Volume, reps: int | tuple[int, int, int]) -> Volume:
    """Repeat a periodic unit cell ``reps`` times per axis (z, y, x); same voxel spacing."""
    reps3 = (reps,) * 3 if isinstance(reps, int) else tuple(reps)
    if len(reps3) != 3 or any(isinstance(r, bool) or int(r) < 1 for r in reps3):
        raise ValueError(f"tile: reps must be a positive int or 3 of them, got {reps!r}")
    reps3 = tuple(int(r) for r in reps3)
    reader = TiledReader(cell, reps3)  # type: ignore[arg-type]
    return Volume(reader, Grid(shape=reader.shape, spacing=cell.grid.spacing), dtype=cell.dtype)


def upsample(coarse: Volume, shape: int | tuple[int, int, int]) -> Volume:
    """Fourier-interpolate a periodic density onto ``shape`` voxels over the same box."""
    shape3 = Grid(shape=shape).shape
    reader = FourierReader(coarse, shape3)
    box = coarse.grid.box
    spacing = tuple(L / n for L, n in zip(box, shape3, strict=True))
    return Volume(reader, Grid(shape=shape3, spacing=spacing), dtype=coarse.dtype)


__all__ = ["read_npy", "read_hdf5", "read_tiff", "read_chgcar", "read_density", "tile", "upsample"]
