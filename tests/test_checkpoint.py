"""The one torch model-file reader: every refusal names the file."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="model files need torch (the 'ml' extra)")

from hifft.checkpoint import read_checkpoint  # noqa: E402


def test_reads_a_dict_of_the_expected_format(tmp_path):
    p = tmp_path / "m.pt"
    torch.save({"format": "x/1", "w": torch.ones(3)}, p)
    ck = read_checkpoint(p, "an x model", "x/1")
    assert ck["format"] == "x/1" and torch.equal(ck["w"], torch.ones(3))
    assert read_checkpoint(p, "an x model")["format"] == "x/1"


def test_refusals_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.pt: no such file \(an x model expected\)"):
        read_checkpoint(tmp_path / "nope.pt", "an x model")
    junk = tmp_path / "junk.pt"
    junk.write_text("not a torch file")
    with pytest.raises(ValueError, match=r"junk\.pt: not an x model \("):
        read_checkpoint(junk, "an x model")
    lst = tmp_path / "list.pt"
    torch.save([1, 2], lst)
    with pytest.raises(ValueError, match=r"list\.pt: not an x model \(holds a list"):
        read_checkpoint(lst, "an x model")
    other = tmp_path / "other.pt"
    torch.save({"format": "y/2"}, other)
    with pytest.raises(ValueError, match=r"other\.pt: not an x model of format x/1 \(format: 'y/2'\)"):
        read_checkpoint(other, "an x model", "x/1")
