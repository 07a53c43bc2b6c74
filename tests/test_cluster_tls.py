"""An existing TLS-secured cluster: ``dask scheduler`` + two ``dask worker`` processes started from the
command line with certificates made here, and a ``hifft run`` job against their ``tls://`` address.

The oracle is the same job run in this process (cluster kind ``process``): the I(q) written by the
cluster run must match it. Every process the test starts shares one process group, which is killed in
a ``finally`` and checked empty afterwards.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest

pytest.importorskip("cryptography", reason="making test certificates needs the cryptography package")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[1]

JOB = """\
name: tls_job
grid: {shape: 32, spacing: "2 Å"}
scene:
  sld_solvent: 0.0
  seed: 7
  components:
    - {shape: sphere, radius: "6 Å", sld: 1.0, volume_fraction: 0.05, placement: random}
fft: {backend: numpy, dtype: float32}
reduce: {bins: 16, spacing: log}
detector: {enabled: false}
compare: {enabled: false}
output: {dir: "%s", formats: [netcdf]}
cluster: {n_workers: 2}
"""


# ---------------------------------------------------------------------------
# certificates: a CA, and leaf certificates it signs (EC P-256: fast to make)
# ---------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def make_ca(d: Path, cn: str = "hifft-test-ca") -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA certificate (``d/CN.pem``) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn)).issuer_name(_name(cn))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = d / f"{cn}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def make_leaf(d: Path, cn: str, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by the CA, for server and client use: (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = d / f"{cn}.pem", d / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return cert_path, key_path


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("certs")
    ca, ca_key, ca_cert = make_ca(d)
    node_cert, node_key = make_leaf(d, "node", ca_key, ca_cert)  # scheduler and workers
    client_cert, client_key = make_leaf(d, "client", ca_key, ca_cert)
    _, other_key, other_ca = make_ca(d, "other-ca")  # a stranger's CA: its certificates must be refused
    rogue_cert, rogue_key = make_leaf(d, "rogue", other_key, other_ca)
    return {"ca": ca, "node_cert": node_cert, "node_key": node_key, "client_cert": client_cert,
            "client_key": client_key, "rogue_cert": rogue_cert, "rogue_key": rogue_key}


# ---------------------------------------------------------------------------
# a scheduler and two workers started from the command line, in one process group
# ---------------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASK_", "HIFFT_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def group_members(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes in process group ``pgid``."""
    out = []
    for p in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(p.pid) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(p)
    return out


def kill_group(pgid: int, procs: list[subprocess.Popen], grace: float = 10.0) -> None:
    """SIGTERM the group, SIGKILL what is left after ``grace`` seconds, reap our direct children."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=5)


@contextlib.contextmanager
def tls_cluster(d: Path, certs: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Yield (``tls://127.0.0.1:PORT``, process group id) of a scheduler with two single-thread workers."""
    tls = ["--tls-ca-file", str(certs["ca"]),
           "--tls-cert", str(certs["node_cert"]), "--tls-key", str(certs["node_key"])]
    env = _clean_env()
    sched_file = d / "scheduler.json"
    procs: list[subprocess.Popen] = []
    logs = []

    def start(args: list[str], log: str, group: int) -> subprocess.Popen:
        f = open(d / log, "wb")  # noqa: SIM115 - closed below
        logs.append(f)
        p = subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=f, stderr=subprocess.STDOUT, env=env,
                             cwd=d, process_group=group)
        procs.append(p)
        return p

    # the scheduler leads a new process group; the workers (and the processes their nannies spawn) join it;
    # --idle-timeout / --death-timeout end them even if this test process were killed outright
    sched = start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--protocol", "tls", *tls,
                   "--no-dashboard", "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(sched_file),
                   "--idle-timeout", "300"], "scheduler.log", 0)
    pgid = sched.pid
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            if sched.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("scheduler did not start:\n" + (d / "scheduler.log").read_text())
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tls://127.0.0.1:"), address
        for i in range(2):
            start(["worker", address, *tls, "--host", "127.0.0.1", "--nthreads", "1", "--memory-limit", "1GiB",
                   "--no-dashboard", "--name", f"w{i}", "--local-directory", str(d / f"w{i}"),
                   "--death-timeout", "30"], f"worker{i}.log", pgid)
        yield address, pgid
    finally:
        kill_group(pgid, procs)
        for f in logs:
            f.close()


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------


def _computed(dask_scheduler) -> dict[str, float]:
    """Seconds of compute per task prefix the scheduler has seen (prefixes outlive their tasks)."""
    return {k: float(v.all_durations.get("compute", 0.0)) for k, v in dask_scheduler.task_prefixes.items()}


def test_hifft_run_on_an_existing_tls_cluster(tmp_path, certs):
    from distributed import Client, Security

    from hifft.cluster import ClusterConfig, TLSConfig, get_client, n_workers
    from hifft.config import load_config
    from hifft.pipeline import JobConfig, run

    job = tmp_path / "job.yaml"
    job.write_text(JOB % (tmp_path / "on_cluster"))
    with tls_cluster(tmp_path, certs) as (address, pgid):
        assert len(group_members(pgid)) >= 3  # scheduler + 2 workers (+ their nanny children)
        cfg = ClusterConfig(address=address, n_workers=2, timeout=60,
                            tls=TLSConfig(ca_file=certs["ca"], cert=certs["client_cert"], key=certs["client_key"]))
        # TLS settings from the cluster config; waits for both workers
        with get_client(config=cfg) as c:
            assert c.scheduler.address.startswith("tls://") and n_workers(c) == 2
            assert c.run_on_scheduler(_computed) == {}  # a fresh scheduler: nothing has run yet

            # TLS settings from Dask's own config (environment), address from HIFFT_SCHEDULER: the CLI job
            env = _clean_env() | {
                "HIFFT_SCHEDULER": address,
                "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(certs["ca"]),
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(certs["client_cert"]),
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(certs["client_key"]),
            }
            r = subprocess.run([sys.executable, "-m", "hifft.cli", "run", str(job), "--quiet"], env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=150)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "dashboard" not in (r.stdout + r.stderr).lower()  # none asked for, none announced
            ran = c.run_on_scheduler(_computed)
            assert sum(ran.values()) > 0, f"the job's tasks did not run on the TLS cluster: {ran}"

        # no certificate, or one from another CA: refused
        with pytest.raises(ValueError, match="needs TLS settings"), get_client(address=address):
            pass
        rogue = Security(tls_ca_file=str(certs["ca"]), tls_client_cert=str(certs["rogue_cert"]),
                         tls_client_key=str(certs["rogue_key"]), require_encryption=True)
        with pytest.raises((OSError, TimeoutError)):
            Client(address, security=rogue, timeout=3)
    assert group_members(pgid) == [], "processes of the test cluster were left behind"

    # the oracle: the same job in this process, no cluster
    ref = load_config(job, JobConfig, environ={})
    ref.cluster = ClusterConfig(kind="process")
    ref.output.dir = tmp_path / "in_process"
    run(ref, progress=False, echo=lambda *a: None)

    import xarray as xr

    with xr.open_dataset(tmp_path / "on_cluster" / "tls_job_iq.nc") as a, \
         xr.open_dataset(tmp_path / "in_process" / "tls_job_iq.nc") as b:
        np.testing.assert_array_equal(a["q"].values, b["q"].values)
        assert np.isfinite(a["I"].values).all() and (a["I"].values > 0).any()
        np.testing.assert_allclose(a["I"].values, b["I"].values, rtol=1e-5)


def test_local_cluster_with_tls(tmp_path, certs):
    """``tls`` on a LocalCluster: every connection is TLS with the given certificate."""
    from hifft.cluster import ClusterConfig, TLSConfig, get_client

    cfg = ClusterConfig(n_workers=1, memory_limit="1GiB",
                        tls=TLSConfig(ca_file=certs["ca"], cert=certs["node_cert"], key=certs["node_key"]))
    with get_client(config=cfg) as c:
        assert c.scheduler.address.startswith("tls://127.0.0.1:")
        workers = c.scheduler_info()["workers"]
        assert len(workers) == 1 and all(a.startswith("tls://127.0.0.1:") for a in workers)
        assert c.submit(sum, [1, 2, 3]).result() == 6
