"""Hidden codes and attractor labels: hand-built networks of known codes, and the blog
author's published cases."""
import itertools

import numpy as np
import pytest

from xorsweep import kernels
from xorsweep.kernels.vocab import published_cases
from xorsweep.analysis import attractors as A
from xorsweep.analysis import codes as C

X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
#: a saturated sigmoid unit computing each function: (w_x1, w_x2, bias)
UNITS = {"AND": (10, 10, -15), "OR": (10, 10, -5), "NAND": (-10, -10, 15), "NOR": (-10, -10, 5),
         "x1→x2": (-10, 10, 5), "x2→x1": (10, -10, 5), "x1∧¬x2": (10, -10, -5), "¬x1∧x2": (-10, 10, -5),
         "x1": (10, 0, -5), "x2": (0, 10, -5), "¬x1": (-10, 0, 5), "¬x2": (0, -10, 5),
         "TRUE": (0, 0, 10), "FALSE": (0, 0, -10)}
TRUTH = {"FALSE": lambda a, b: 0, "AND": lambda a, b: a & b, "x1∧¬x2": lambda a, b: a & (1 - b),
         "x1": lambda a, b: a, "¬x1∧x2": lambda a, b: (1 - a) & b, "x2": lambda a, b: b,
         "XOR": lambda a, b: a ^ b, "OR": lambda a, b: a | b, "NOR": lambda a, b: 1 - (a | b),
         "XNOR": lambda a, b: 1 - (a ^ b), "¬x2": lambda a, b: 1 - b, "x2→x1": lambda a, b: a | (1 - b),
         "¬x1": lambda a, b: 1 - a, "x1→x2": lambda a, b: (1 - a) | b, "NAND": lambda a, b: 1 - (a & b),
         "TRUE": lambda a, b: 1}


def forward(W1, b1, W2, b2):
    """One network's z1, predicted classes and accuracy (the DESIGN's definitions)."""
    z1 = 1 / (1 + np.exp(-(X @ W1 + b1)))
    a2 = z1 @ W2 + b2
    predicted = (a2[:, 1] > a2[:, 0]).astype(np.int8)
    return z1, predicted, float(np.mean(predicted == [0, 1, 1, 0]))


def network(units, out_w, out_b, scale=1.0):
    """A network whose hidden unit j computes units[j]; d = z @ out_w + out_b."""
    W1 = scale * np.array([[UNITS[u][0] for u in units], [UNITS[u][1] for u in units]], dtype=float)
    b1 = scale * np.array([UNITS[u][2] for u in units], dtype=float)
    W2 = np.stack([np.zeros(len(units)), np.asarray(out_w, float)], axis=1)
    b2 = np.array([0.0, out_b])
    return W1, b1, W2, b2


def label(units, out_w, out_b, scale=1.0, which="label"):
    W1, b1, W2, b2 = network(units, out_w, out_b, scale)
    z1, predicted, acc = forward(W1, b1, W2, b2)
    cl = A.classify(z1[None], W2[None], b2[None], predicted[None], [acc], [False])
    return cl.display(which)[0], cl


def test_unit_names_follow_the_truth_tables():
    for index, name in enumerate(C.UNIT_NAMES):
        bits = [TRUTH[name](int(a), int(b)) for a, b in X.astype(int)]
        assert C.unit_code(bits) == index, name


def test_saturated_units_read_as_their_functions():
    names = list(UNITS)
    z1 = 1 / (1 + np.exp(-(X @ np.array([[UNITS[u][0] for u in names], [UNITS[u][1] for u in names]])
                           + np.array([UNITS[u][2] for u in names]))))
    codes = C.unit_code((z1 > 0.5).T)
    assert [C.UNIT_NAMES[c] for c in codes] == names


@pytest.mark.parametrize("units, out_w, out_b, expected", [
    (["TRUE", "NAND", "OR"], [1, 20, 20], -31, "AND(NAND,OR)"),
    (["TRUE", "x1→x2", "x2→x1"], [1, -20, -20], 31, "NAND(x1→x2,x2→x1)"),
    (["AND", "NOR"], [-20, -20], 10, "NOR(AND,NOR)"),
    (["x1∧¬x2", "¬x1∧x2"], [20, 20], -10, "OR(x1∧¬x2,¬x1∧x2)"),
    (["NAND", "NOR"], [20, -20], -10, "ANDNOT(NAND,NOR)"),
    (["OR", "AND"], [20, -20], -10, "ANDNOT(OR,AND)"),
    # a duplicated NAND unit sharing the load: mean ablation folds one copy
    (["NAND", "OR", "NAND"], [10, 20, 10], -31, "AND(NAND,OR)"),
])
def test_hand_built_networks_of_known_codes(units, out_w, out_b, expected):
    name, cl = label(units, out_w, out_b)
    assert name == expected
    assert cl.display("nearest")[0] == expected


def test_label_does_not_depend_on_the_order_of_the_hidden_units():
    units, out_w = ["TRUE", "NAND", "OR"], [1, 20, 20]
    for perm in itertools.permutations(range(3)):
        assert label([units[p] for p in perm], [out_w[p] for p in perm], -31)[0] == "AND(NAND,OR)"
    units, out_w = ["NAND", "NOR", "TRUE"], [20, -20, 0.5]
    for perm in itertools.permutations(range(3)):
        assert label([units[p] for p in perm], [out_w[p] for p in perm], -10.5)[0] == "ANDNOT(NAND,NOR)"


def test_surplus_units_constant_or_weightless():
    # unit 0 is constant ~1 with a large weight; unit 3 varies (AND) but weighs little
    name, cl = label(["TRUE", "NAND", "OR", "AND"], [15, 20, 20, 0.3], -46)
    assert name == "AND(NAND,OR)"
    assert cl.surplus[0].tolist() == [True, False, False, True]
    assert cl.code[0].tolist() == [15, 14, 7, 1]


def test_failures_diverged_and_pending_come_first():
    W1, b1, W2, b2 = network(["NAND", "OR"], [20, 20], -31)
    z1, predicted, acc = forward(W1, b1, W2, b2)
    fail_W2, fail_b2 = W2.copy(), np.array([0.0, 100.0])  # always class 1
    fz1, fpred, facc = forward(W1, b1, fail_W2, fail_b2)
    cl = A.classify(np.stack([z1, fz1, z1, np.full_like(z1, np.nan)]), np.stack([W2, fail_W2, W2, W2 * np.nan]),
                    np.stack([b2, fail_b2, b2, b2]), np.stack([predicted, fpred, predicted, predicted]),
                    [acc, facc, acc, np.nan], [False, False, False, True], done=[True, True, False, True])
    assert cl.display() == ["AND(NAND,OR)", "fail[1,1,1,1]", "pending", "diverged"]
    assert [n.family for n in cl.names[:3]] == ["pending", "failure", "failure"]
    assert cl.code[2].tolist() == [-1, -1]


def _classify_one(W1, b1, out_w, out_b):
    W2 = np.stack([np.zeros(len(out_w)), np.asarray(out_w, float)], axis=1)
    b2 = np.array([0.0, out_b])
    z1, predicted, acc = forward(np.asarray(W1, float), np.asarray(b1, float), W2, b2)
    assert acc == 1.0
    return A.classify(z1[None], W2[None], b2[None], predicted[None], [acc], [False]), z1


def test_unsaturated_units_are_named_and_flagged_marginal():
    # a saturated NAND and an OR-like unit at 0.475 on row 0: named, with the margin flag
    cl, z1 = _classify_one([[-10, 1], [-10, 1]], [15, -0.1], [20, 40], -40)
    assert abs(z1[0, 1] - 0.475) < 0.001
    assert cl.display() == ["AND(NAND,OR)"]
    assert cl.display("nearest") == ["AND(NAND,OR)"]
    assert cl.marginal.tolist() == [True]


def test_a_network_that_needs_graded_activations_is_other():
    # unit 2 reads TRUE on every row (0.62 .. 0.95), yet the output relies on its grading
    cl, z1 = _classify_one([[10, 1.2], [10, 1.2]], [-5, 0.5], [100, -200], 80)
    assert (z1[:, 1] > 0.6).all()
    assert cl.display() == ["other"]
    assert cl.surplus[0].tolist() == [False, False]


def test_more_hidden_units():
    name, _ = label(["AND", "TRUE", "FALSE", "NOR", "x1"], [-20, 1, 1, -20, 0.01], 8)
    assert name == "NOR(AND,NOR)"


def test_names_are_cf_safe():
    cl = A.classify(*_published_arrays())
    for n in cl.names:
        assert all(ch.isalnum() or ch in "_-.+@" for ch in n.cf), n.cf


PUBLISHED = [(None, "fail[0,1,1,1]", "failure"), (7, "AND(NAND,OR)", "AND-like"), (6, "AND(NAND,OR)", "AND-like"),
             (5, "AND(NAND,OR)", "AND-like"), (4, "NAND(x1→x2,x2→x1)", "NAND-like"), (3, "other", "other")]


def _published_arrays(cases=None):
    import json
    from pathlib import Path

    cases = cases or published_cases()
    W1, W2 = np.array(cases["init"]["W1"]), np.array(cases["init"]["W2"])
    starts = [(W1, W2) if d is None else (np.round(W1, d), np.round(W2, d)) for d, _, _ in PUBLISHED]
    r = kernels.train(np.array([s[0] for s in starts]), np.zeros((len(starts), 3)), np.array([s[1] for s in starts]),
                      np.zeros((len(starts), 2)), rule="seed", lr=5.0, steps=100)
    return r.z1, r.W2, r.b2, r.predicted, r.accuracy, r.diverged


def test_published_cases_agree_with_the_author(cases):
    cl = A.classify(*_published_arrays(cases))
    assert cl.display() == [p[1] for p in PUBLISHED]
    assert [cl.names[i].family for i in cl.label] == [p[2] for p in PUBLISHED]
    # 7 decimals: unit 1 surplus (always ~1), unit 2 NAND, unit 3 OR (0.379 on row 0)
    assert cl.surplus[1].tolist() == [True, False, False]
    assert [C.UNIT_NAMES[c] for c in cl.code[1]] == ["TRUE", "NAND", "OR"]
    # 3 decimals: activations ~0.5 on the informative units; nearest is the NAND-like code
    assert cl.display("nearest")[5] == "NAND(x1→x2,x2→x1)"


@pytest.mark.parametrize("margin", [0.01, 0.1])
def test_published_labels_hold_over_a_range_of_saturation_margins(cases, monkeypatch, margin):
    monkeypatch.setattr(A, "SATURATION", margin)
    assert A.classify(*_published_arrays(cases)).display() == [p[1] for p in PUBLISHED]


def test_gate_names_and_permutations():
    g = [0, 0, 1, 0]  # a ∧ ¬b
    assert C.gate_name(g, 2) == "ANDNOT"
    assert C.gate_name(C.permute_table(g, (1, 0)), 2) == "NOTAND"
    assert C.gate_name([0, 0, 0, 1, 0, 1, 1, 1], 3) == "MAJ"
    for k in (2, 3):
        g = np.random.default_rng(k).integers(0, 2, 2**k)
        for perm in itertools.permutations(range(k)):
            back = C.permute_table(C.permute_table(g, perm), np.argsort(perm))
            np.testing.assert_array_equal(back, g)
