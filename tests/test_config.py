from __future__ import annotations

import pytest

from hifft.config import ConfigError, StrictModel, env_overrides, load_config, load_yaml


class Fft(StrictModel):
    backend: str = "auto"
    threads: int = 1


class Job(StrictModel):
    name: str
    fft: Fft = Fft()


def write(tmp_path, text):
    p = tmp_path / "job.yaml"
    p.write_text(text)
    return p


def test_loads_and_validates(tmp_path):
    job = load_config(write(tmp_path, "name: a\nfft:\n  backend: numpy\n"), Job, environ={})
    assert job.fft.backend == "numpy"


def test_unknown_key_names_field_and_file(tmp_path):
    p = write(tmp_path, "name: a\nfft:\n  bakend: numpy\n")
    with pytest.raises(ConfigError) as e:
        load_config(p, Job, environ={})
    assert str(p) in str(e.value) and "fft.bakend" in str(e.value)


def test_duplicate_key_names_line_and_file(tmp_path):
    p = write(tmp_path, "name: a\nfft:\n  threads: 4\n  threads: -1\n")
    with pytest.raises(ConfigError, match=r"job.yaml:4: duplicate key 'threads'"):
        load_yaml(p)


def test_env_override(tmp_path):
    p = write(tmp_path, "name: a\n")
    job = load_config(p, Job, environ={"HIFFT_FFT__THREADS": "3", "HIFFT_SCHEDULER": "tcp://x:1"})
    assert job.fft.threads == 3


def test_env_override_validated(tmp_path):
    p = write(tmp_path, "name: a\n")
    with pytest.raises(ConfigError, match="fft.threads"):
        load_config(p, Job, environ={"HIFFT_FFT__THREADS": "many"})


def test_safe_loader_refuses_python_tags(tmp_path):
    p = write(tmp_path, "name: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(p)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(tmp_path / "nope.yaml")


def test_env_overrides_nested():
    assert env_overrides({"HIFFT_A__B__C": "[1, 2]"}) == {"a": {"b": {"c": [1, 2]}}}
