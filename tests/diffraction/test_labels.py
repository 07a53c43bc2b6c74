"""Label set and hierarchy rules (seed 003, Fig. 2)."""

from __future__ import annotations

import numpy as np
import pytest

from hifft.diffraction import labels as L


def test_label_set_and_hierarchy_cover_every_label_once():
    assert len(L.LABELS) == 11 and len(set(L.LABELS)) == 11
    groups = [set(L.SUPERORDINATE), set(L.PARENT), set(L.GENERAL), {"empty"}]
    assert set().union(*groups) == set(L.LABELS)
    assert sum(len(g) for g in groups) == 11
    assert set(L.PARENT.values()) == set(L.SUPERORDINATE)
    assert set(L.DISPLAY) == set(L.LABELS)


@pytest.mark.parametrize(("given", "scores", "expected"), [
    ({"round"}, None, ("spherical_oblate", "round")),                      # subclass implies parent
    ({"bent", "streak"}, None, ("prolate", "bent", "streak")),
    ({"round", "double_rings"}, None, ("spherical_oblate", "round", "double_rings")),  # allowed together
    ({"round", "bent"}, None, ("spherical_oblate", "round")),              # tie keeps the majority class
    ({"round", "bent"}, {"prolate": 0.9, "spherical_oblate": 0.6}, ("prolate", "bent")),
    ({"round", "elliptical"}, None, ("spherical_oblate", "round")),
    ({"round", "elliptical"}, {"round": 0.6, "elliptical": 0.8}, ("spherical_oblate", "elliptical")),
    ({"empty", "layered"}, None, ("spherical_oblate", "layered")),        # something was seen
    ({"empty", "layered"}, {"empty": 0.9, "layered": 0.6}, ("empty",)),
    (set(), None, ("empty",)),
    ({"newton_rings"}, {"prolate": 0.7, "spherical_oblate": 0.2}, ("newton_rings", "prolate")),
])
def test_enforce_hierarchy_on_names(given, scores, expected):
    assert L.enforce_hierarchy(given, scores) == expected


def test_enforce_hierarchy_gives_consistent_idempotent_arrays():
    rng = np.random.default_rng(0)
    raw = rng.uniform(size=(500, 11)) > 0.6
    fixed = L.enforce_hierarchy(raw)
    assert fixed.shape == raw.shape and fixed.dtype == bool
    assert L.count_violations(fixed)["images"] == 0
    assert np.array_equal(L.enforce_hierarchy(fixed), fixed)
    assert L.count_violations(raw)["images"] > 0
    probs = rng.uniform(size=(4, 3, 11))  # any leading shape, scores from probabilities
    assert L.count_violations(L.enforce_hierarchy(probs, probs).reshape(-1, 11))["images"] == 0


def test_count_violations_counts_each_rule():
    rows = [
        L.encode(["spherical_oblate", "prolate"]),                 # both superordinate
        L.encode(["spherical_oblate", "round", "elliptical"]),     # round and elliptical
        L.encode(["layered"]),                                     # no superordinate
        np.zeros(11, bool),                                        # nothing: no superordinate
        L.encode(["spherical_oblate", "streak"]),                  # orphan subclass
        L.encode(["empty", "asymmetric", "spherical_oblate"]),     # empty with others
        L.encode(["prolate", "bent", "newton_rings"]),             # fine
        L.encode(["empty"]),                                       # fine
    ]
    c = L.count_violations(np.array(rows))
    assert c == {"both_superordinate": 1, "round_and_elliptical": 1, "no_superordinate": 2,
                 "orphan_subclass": 1, "empty_with_other": 1, "images": 6}
    probs = np.where(np.array(rows), 0.9, 0.1)
    assert L.count_violations(probs) == c


def test_encode_decode_round_trip():
    names = ("prolate", "bent", "asymmetric")
    assert L.decode(L.encode(names)) == names


def test_bad_labels_are_refused():
    with pytest.raises(L.LabelError, match=r"my_field: unknown label 'sphere'.*spherical_oblate"):
        L.encode(["sphere"], field="my_field")
    with pytest.raises(L.LabelError, match="last axis of 11"):
        L.count_violations(np.zeros((3, 10), bool))
    with pytest.raises(L.LabelError, match="non-finite"):
        L.as_array(np.full(11, np.nan))
    with pytest.raises(L.LabelError, match="scores: shape"):
        L.enforce_hierarchy(np.zeros((2, 11), bool), np.zeros((3, 11)))
    with pytest.raises(L.LabelError, match="scores: unknown label"):
        L.enforce_hierarchy({"round"}, {"circle": 1.0})
