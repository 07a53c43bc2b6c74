"""The one cluster config (:class:`hifft.cluster.ClusterConfig`): YAML keys, kinds, validation, TLS, the
dashboard only when asked for, and what :func:`hifft.cluster.get_client` hands to dask-jobqueue."""

from __future__ import annotations

import importlib.util
import sys
import types
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hifft.cluster import DASHBOARD_ADDRESS, ClusterConfig, TLSConfig, get_client
from hifft.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
JOB_FILES = ["demo.yaml", "spheres_1024.yaml", "spheres_2048.yaml", "spheres_4096_cropped.yaml", "slurm_4096.yaml",
             "tls_cluster.yaml"]
HEAD = "name: x\ngrid: {shape: 32, spacing: 2}\nscene: {components: [{shape: sphere, radius: 5, sld: 1, count: 1}]}\n"


def job(tmp_path: Path, cluster: str) -> Path:
    p = tmp_path / "job.yaml"
    p.write_text(HEAD + f"output: {{dir: {tmp_path / 'out'}}}\ncluster: {cluster}\n")
    return p


@pytest.mark.parametrize("name", JOB_FILES)
def test_job_files_keep_their_cluster_keys(name):
    from hifft.pipeline import JobConfig

    c = load_config(ROOT / "pipelines" / name, JobConfig, environ={}).cluster
    if name.startswith("slurm"):
        assert c.resolved_kind({}) == "jobqueue" and c.jobqueue.kind == "slurm" and c.jobqueue.jobs == 16
        assert c.jobqueue.options()["job_extra_directives"] == ["--exclusive"]  # class kwargs pass through
        assert "kind" not in c.jobqueue.options() and "jobs" not in c.jobqueue.options()
    elif name.startswith("tls"):
        assert c.resolved_kind({}) == "address" and c.address.startswith("tls://") and c.n_workers == 2
        assert c.tls.ca_file == Path("certs/ca.pem") and c.tls.key == Path("certs/client.key")
    else:
        assert c.resolved_kind({}) == "local" and c.n_workers == 2 and c.memory_limit.endswith("GiB")
    assert c.dashboard is False and (c.tls is None) == (not name.startswith("tls"))


def test_ml_config_uses_the_same_model(tmp_path):
    from hifft.ml import config as ml_config

    assert ml_config.ClusterConfig is ClusterConfig
    p = tmp_path / "ml.yaml"
    p.write_text("cluster: {address: 'tls://10.0.0.1:8786', n_workers: 4, tls: {ca_file: ca.pem, cert: me.pem}}\n")
    c = ml_config.load(p).cluster
    assert c.resolved_kind({}) == "address" and c.tls.key is None and c.tls.cert == Path("me.pem")


@pytest.mark.parametrize(
    ("cluster", "match"),
    [
        ("{address: 'tcp://h:8786', jobqueue: {kind: slurm}}", "not both"),
        ("{kind: local, address: 'tls://h:8786'}", "takes no 'address'"),
        ("{kind: jobqueue}", "needs a 'jobqueue' section"),
        ("{address: 'tls://h:8786', memory_limit: 4GiB}", "memory_limit does not apply to cluster kind 'address'"),
        ("{jobqueue: {kind: slurm}, n_workers: 3}", "n_workers does not apply to cluster kind 'jobqueue'"),
        ("{kind: process, dashboard: true}", "dashboard does not apply"),
        ("{memory_limit: 4 GiBs}", "cluster.memory_limit"),
        ("{address: 'http://h:8786'}", "unknown protocol"),
        ("{address: 'tcp://h:8786', tls: {ca_file: a, cert: b}}", "use tls://"),
        ("{jobqueue: {kind: torque}}", "cluster.jobqueue.kind"),
        ("{tls: {ca_file: a}}", "cluster.tls.cert"),
        ("{n_workers: 0}", "cluster.n_workers"),
        ("{dashbord: true}", "cluster.dashbord"),
    ],
)
def test_bad_cluster_sections_name_the_field(tmp_path, cluster, match):
    from hifft.pipeline import JobConfig

    p = job(tmp_path, cluster)
    with pytest.raises(ConfigError, match=match) as e:
        load_config(p, JobConfig, environ={})
    assert str(p) in str(e.value)


def test_environment_overrides(tmp_path):
    from hifft.pipeline import JobConfig

    p = job(tmp_path, "{n_workers: 2}")
    env = {"HIFFT_CLUSTER__ADDRESS": "tls://h:8786", "HIFFT_CLUSTER__TLS__CA_FILE": "/ca.pem",
           "HIFFT_CLUSTER__TLS__CERT": "~/me.pem"}
    c = load_config(p, JobConfig, environ=env).cluster
    assert c.resolved_kind({}) == "address" and c.tls.ca_file == Path("/ca.pem")
    assert c.tls.cert == Path("~/me.pem").expanduser()
    # HIFFT_SCHEDULER turns an unspecified kind into 'address', never an explicit one
    assert ClusterConfig().resolved_kind({"HIFFT_SCHEDULER": "tcp://h:1"}) == "address"
    assert ClusterConfig(kind="local").resolved_kind({"HIFFT_SCHEDULER": "tcp://h:1"}) == "local"


def test_overrides_are_validated():
    base = ClusterConfig(n_workers=2, memory_limit="1GiB")
    assert base.with_overrides(n_workers=3, address=None).n_workers == 3
    assert base.with_overrides(dashboard=True).dashboard is True
    with pytest.raises(ValueError, match="kind 'local' takes no 'address'"):
        ClusterConfig(kind="local").with_overrides(address="tcp://h:1")


def test_tls_security_roles(tmp_path):
    for n in ("ca.pem", "c.pem", "c.key"):
        (tmp_path / n).write_text("x")
    t = TLSConfig(ca_file=tmp_path / "ca.pem", cert=tmp_path / "c.pem", key=tmp_path / "c.key")
    client_only = t.security()
    assert client_only.require_encryption and client_only.tls_client_cert == str(tmp_path / "c.pem")
    assert client_only.tls_client_key == str(tmp_path / "c.key") and client_only.tls_worker_cert is None
    every = t.security(all_roles=True)
    assert every.tls_scheduler_cert == every.tls_worker_cert == str(tmp_path / "c.pem")
    assert every.tls_ca_file == str(tmp_path / "ca.pem")
    with pytest.raises(FileNotFoundError, match=r"cluster\.tls\.ca_file"):
        TLSConfig(ca_file=tmp_path / "nope.pem", cert=tmp_path / "c.pem").security()


def test_get_client_refusals_and_process_kind(monkeypatch):
    monkeypatch.delenv("HIFFT_SCHEDULER", raising=False)
    with get_client(config=ClusterConfig(kind="process")) as c:
        assert c is None  # run in this process
    with pytest.raises(ValueError, match=r"needs cluster\.address or HIFFT_SCHEDULER"), \
         get_client(config=ClusterConfig(kind="address")):
        pass
    with pytest.raises(ValueError, match="needs TLS settings"), get_client(address="tls://127.0.0.1:1"):
        pass
    sentinel = object()
    with get_client(sentinel) as c:
        assert c is sentinel


def test_jobqueue_gets_localhost_dashboard_tls_and_its_own_options(monkeypatch, tmp_path):
    """What get_client passes to the dask-jobqueue class (a stand-in records it: dask-jobqueue is optional)."""
    made = []

    class FakeSLURM:
        def __init__(self, **kw):
            self.kw, self.jobs, self.closed = kw, None, False
            made.append(self)

        def scale(self, jobs):
            self.jobs = jobs

        def close(self):
            self.closed = True

    class FakeClient:
        def __init__(self, target, **kw):
            self.target = target

        def close(self):
            pass

    import distributed

    monkeypatch.setitem(sys.modules, "dask_jobqueue", types.SimpleNamespace(SLURMCluster=FakeSLURM))
    monkeypatch.setattr(distributed, "Client", FakeClient)
    for n in ("ca.pem", "c.pem"):
        (tmp_path / n).write_text("x")
    cfg = ClusterConfig(jobqueue={"kind": "slurm", "jobs": 3, "cores": 8, "memory": "32GB"},
                        tls={"ca_file": tmp_path / "ca.pem", "cert": tmp_path / "c.pem"})
    with get_client(config=cfg) as c:
        assert c.target is made[0]
    kw = made[0].kw
    assert made[0].jobs == 3 and made[0].closed
    assert kw["cores"] == 8 and kw["memory"] == "32GB" and "kind" not in kw and "jobs" not in kw
    assert kw["scheduler_options"] == {"dashboard_address": "127.0.0.1:0", "dashboard": False}
    assert kw["protocol"] == "tls://" and kw["security"].tls_worker_cert == str(tmp_path / "c.pem")


@pytest.mark.cluster
def test_local_cluster_serves_no_dashboard_unless_asked():
    from hifft.cluster import local_cluster

    with get_client(config=ClusterConfig(n_workers=1, memory_limit="1GiB")) as c:
        http = c.cluster.scheduler.http_server
        assert http.address == "127.0.0.1" and http.port != 8787  # health/metrics endpoint only, off 8787
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{http.port}/status", timeout=10)
        assert e.value.code == 404  # no dashboard page
    if importlib.util.find_spec("bokeh") is None:
        with pytest.raises(RuntimeError, match="needs bokeh"):
            local_cluster(n_workers=1, dashboard=True)
    else:
        with local_cluster(n_workers=1, memory_limit="1GiB", dashboard=True) as cl:
            http = cl.scheduler.http_server
            assert http.address == DASHBOARD_ADDRESS.split(":")[0]
            assert urllib.request.urlopen(f"http://127.0.0.1:{http.port}/status", timeout=10).status == 200
