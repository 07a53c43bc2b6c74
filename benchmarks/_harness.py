"""Shared benchmark harness.

- :func:`run_child` runs one competitor in a fresh child process and samples
  the peak RSS summed over its whole process tree (Dask workers included);
- :func:`snapshot`, :func:`settle`, :func:`require_quiet` record, wait out and
  refuse the machine's load
  (``uptime``'s 1/5/15-minute averages, CPU busy %, free memory);
- :func:`disk_bandwidth`, :func:`drop_page_cache`, :func:`resident_bytes`
  measure the disk and the page cache that stands in front of it;
- :func:`save` writes a result's JSON and markdown (atomically), stamped with
  the command, date, git commit and machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
GiB = 2**30


# ---------------------------------------------------------------- child processes
def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of ``proc`` and all its descendants."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_info().rss
    return total


def _kill_tree(proc: psutil.Process) -> None:
    """Kill a child we started and everything it started (only that tree)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        procs = [*proc.children(recursive=True), proc]
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        psutil.wait_procs(procs, timeout=10)


def run_child(args: list[str], interval: float = 0.05, timeout: float = 3600,
              env: dict[str, str] | None = None) -> dict:
    """Run ``python args...``; the child prints one JSON line last. Adds ``peak_rss`` (bytes, whole tree).

    A failed child gives ``{"error": last stderr line, "peak_rss": ...}``; one
    running past ``timeout`` seconds is killed with its tree.
    """
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=None if env is None else {**os.environ, **env})
    ps = psutil.Process(proc.pid)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            try:
                peak = max(peak, tree_rss(ps))
            except psutil.NoSuchProcess:
                return
            time.sleep(interval)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(ps)
        proc.communicate()
        return {"error": f"timeout after {timeout:.0f} s (killed)", "peak_rss": peak}
    finally:
        stop.set()
        t.join()
    if proc.returncode != 0:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}",
                "peak_rss": peak}
    lines = out.strip().splitlines()
    try:
        res = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": f"no JSON result on stdout (stderr: {err.strip()[-200:]})", "peak_rss": peak}
    res["peak_rss"] = peak
    return res


# ---------------------------------------------------------------- load and machine state
def loadavg() -> list[float]:
    """The 1, 5 and 15-minute load averages, as ``uptime`` prints them."""
    return [round(x, 2) for x in os.getloadavg()]


#: speed figures start only below this 1-minute load (these machines have 2 cores)
MAX_LOAD = 1.5


def require_quiet(max_load: float = MAX_LOAD, force: bool = False, load: list[float] | None = None,
                  hint: str = "") -> list[float]:
    """The load averages (``load``, else now); exit with status 2 when the 1-minute load is above ``max_load``.

    A speed figure taken next to other work measures the contention, not the code; ``force`` runs anyway
    (the caller flags its figures). ``hint`` ends the refusal's message.
    """
    ld = list(load) if load is not None else loadavg()
    if ld[0] > max_load and not force:
        print(f"refusing to start: 1-minute load {ld[0]:.2f} > {max_load} (load {ld}); wait for a quiet "
              f"machine{hint}", file=sys.stderr)
        raise SystemExit(2)
    return ld


def snapshot(cpu_sample_s: float = 1.0) -> dict[str, Any]:
    """Load averages, CPU busy % over ``cpu_sample_s`` seconds, available memory and the time."""
    busy = psutil.cpu_percent(interval=cpu_sample_s) if cpu_sample_s > 0 else None
    return {"load": loadavg(), "cpu_busy_pct": busy, "mem_available": psutil.virtual_memory().available,
            "time": time.strftime("%Y-%m-%d %H:%M:%S")}


def settle(target: float, max_s: float, poll_s: float = 5.0) -> float:
    """Wait until the 1-minute load is ≤ ``target`` (at most ``max_s`` seconds); returns seconds waited.

    The load average lags: a contender that kept both CPUs busy leaves it near 2
    for a minute after it ends, so the next one would otherwise start 'under load'
    that is only the previous contender's echo.
    """
    t0 = time.monotonic()
    while os.getloadavg()[0] > target and time.monotonic() - t0 < max_s:
        time.sleep(min(poll_s, max(0.0, max_s - (time.monotonic() - t0))))
    return round(time.monotonic() - t0, 1)


def git_commit() -> str:
    """HEAD of the repository, with ``+dirty`` when the working tree has changes."""
    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, check=False)
        return r.stdout.strip() if r.returncode == 0 else ""

    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine() -> dict:
    vm = psutil.virtual_memory()
    return {
        "python": platform.python_version(),
        "cpus": psutil.cpu_count(),
        "cpus_physical": psutil.cpu_count(logical=False),
        "memory_gib": round(vm.total / GiB, 1),
        "memory_available_gib": round(vm.available / GiB, 1),
        "processor": platform.processor() or platform.machine(),
    }


# ---------------------------------------------------------------- disk and page cache
def _files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += [f for f in p.rglob("*") if f.is_file()]
        elif p.is_file():
            out.append(p)
    return out


def drop_page_cache(*paths: str | os.PathLike[str]) -> int:
    """Ask the kernel to drop these files' pages from the page cache; returns bytes advised.

    ``fsync`` then ``posix_fadvise(DONTNEED)`` per file: clean pages of our own
    files are dropped without root (``drop_caches`` would need it). Advisory:
    check with :func:`resident_bytes`.
    """
    n = 0
    for f in _files(paths):
        try:
            fd = os.open(f, os.O_RDONLY)
        except OSError:
            continue
        try:
            with contextlib.suppress(OSError):
                os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            n += os.fstat(fd).st_size
        finally:
            os.close(fd)
    return n


def resident_bytes(*paths: str | os.PathLike[str]) -> int | None:
    """Bytes of these files now in the page cache (util-linux ``fincore``); None without it."""
    exe = shutil.which("fincore")
    files = [str(f) for f in _files(paths)]
    if exe is None:
        return None
    total = 0
    for i in range(0, len(files), 500):
        r = subprocess.run([exe, "--bytes", "--noheadings", "--raw", "--output", "RES", *files[i : i + 500]],
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            return None
        total += sum(int(x) for x in r.stdout.split())
    return total


def disk_bandwidth(directory: str | os.PathLike[str], nbytes: int, block: int = 64 * 2**20) -> dict[str, Any]:
    """Sequential write (with fsync) and read bandwidth of the disk under ``directory``, in bytes/s.

    Writes ``nbytes`` of random (incompressible) data in ``block``-sized writes
    and fsyncs (timed together), drops the file's pages (:func:`drop_page_cache`),
    reads it back (``read_Bps``; ``resident_before_read`` says how much was
    still cached), then reads it again (``reread_Bps``: the page cache, when
    the file fits in memory). A plain Python loop: ``dd`` would do the same
    with less control over the cache and no way to report residency.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f".bandwidth-{os.getpid()}.bin"
    buf = memoryview(os.urandom(block))
    rbuf = bytearray(block)

    def read_all() -> float:
        t0 = time.perf_counter()
        with open(path, "rb", buffering=0) as f:
            while f.readinto(rbuf):
                pass
        return time.perf_counter() - t0

    try:
        t0 = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            left = nbytes
            while left > 0:
                left -= os.write(fd, buf[: min(block, left)])
            os.fsync(fd)
        finally:
            os.close(fd)
        t_write = time.perf_counter() - t0
        drop_page_cache(path)
        resident = resident_bytes(path)
        t_read = read_all()
        t_reread = read_all()
    finally:
        path.unlink(missing_ok=True)
    return {
        "bytes": nbytes, "block": block, "directory": str(d),
        "write_Bps": nbytes / t_write, "read_Bps": nbytes / t_read, "reread_Bps": nbytes / t_reread,
        "resident_before_read": resident,
        "method": "os.write loop + fsync; posix_fadvise(DONTNEED) before the read; read again from the page cache",
    }


# ---------------------------------------------------------------- results
def _write(path: Path, text: str) -> None:
    try:
        from hifft.atomic import atomic_write
    except ImportError:  # the harness also runs where hifft is not importable
        path.write_text(text)
    else:
        atomic_write(path, text)


def save(name: str, command: str, rows: list[dict], table: str, extra: dict | None = None,
         out: str | os.PathLike[str] | None = None, header: str = "") -> None:
    """Write ``<out>/<name>.json`` and ``<out>/<name>.md`` (``out`` defaults to benchmarks/results)."""
    dst = Path(out) if out is not None else RESULTS
    dst.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    payload = {"command": command, "date": stamp, "commit": git_commit(), "machine": machine(),
               "rows": rows, **(extra or {})}
    _write(dst / f"{name}.json", json.dumps(payload, indent=1, default=str))
    _write(dst / f"{name}.md",
           f"# {name}\n\nCommand: `{command}`  \nDate: {stamp}  \nCommit: {payload['commit']}  \n"
           f"Machine: {payload['machine']}\n\n{header}{table}\n")
