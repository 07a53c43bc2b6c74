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
    assert job == Job(name="a", fft=Fft(backend="numpy", threads=1))


def test_unknown_key_names_field_and_file(tmp_path):
    p = write(tmp_path, "name: a\nfft:\n  bakend: numpy\n")
    with pytest.raises(ConfigError) as e:
        load_config(p, Job, environ={})
    assert str(p) in str(e.value)
    assert "field 'fft.bakend'" in str(e.value)


def test_duplicate_key_names_line_and_file(tmp_path):
    p = write(tmp_path, "name: a\nfft:\n  threads: 4\n  threads: -1\n")
    with pytest.raises(ConfigError, match=r"job\.yaml:4: duplicate key 'threads'"):
        load_yaml(p)


def test_env_override_wins_over_the_file(tmp_path):
    p = write(tmp_path, "name: a\nfft:\n  threads: 2\n  backend: numpy\n")
    env = {"HIFFT_FFT__THREADS": "3", "HIFFT_SCHEDULER": "tcp://x:1", "HIFFT_DEBUG": "1", "OTHER__X": "1"}
    job = load_config(p, Job, environ=env)
    # the override replaces one key; the rest of the section and the settings of their own stay out
    assert job == Job(name="a", fft=Fft(backend="numpy", threads=3))


def test_env_override_validated_and_named(tmp_path):
    p = write(tmp_path, "name: a\n")
    with pytest.raises(ConfigError) as e:
        load_config(p, Job, environ={"HIFFT_FFT__THREADS": "many"})
    msg = str(e.value)
    assert "field 'fft.threads'" in msg
    assert "HIFFT_FFT__THREADS" in msg and str(p) in msg


def test_misspelt_env_override_is_rejected(tmp_path):
    p = write(tmp_path, "name: a\n")
    with pytest.raises(ConfigError, match=r"field 'fft\.thread'"):
        load_config(p, Job, environ={"HIFFT_FFT__THREAD": "3"})


def test_env_value_that_is_not_yaml_names_the_variable():
    with pytest.raises(ConfigError, match="environment variable HIFFT_FFT__BACKEND: not valid YAML"):
        env_overrides({"HIFFT_FFT__BACKEND": "[unclosed"})


def test_env_key_both_value_and_section_is_an_error():
    with pytest.raises(ConfigError, match="HIFFT_FFT__BACKEND__X"):
        env_overrides({"HIFFT_FFT__BACKEND": "numpy", "HIFFT_FFT__BACKEND__X": "1"})


def test_safe_loader_refuses_python_tags(tmp_path):
    p = write(tmp_path, "name: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(p)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(tmp_path / "nope.yaml")


def test_env_overrides_nested():
    assert env_overrides({"HIFFT_A__B__C": "[1, 2]", "HIFFT_A__D": "x", "HIFFT_TMPDIR": "/t"}) == {
        "a": {"b": {"c": [1, 2]}, "d": "x"}
    }
