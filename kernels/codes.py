"""Boolean functions: what a hidden unit computes, and how the output combines units (pure
numpy, shared by the kernels' outcome tracking, the sweep and analysis).

A k-input truth table is indexed by its outputs on the inputs counted in binary from
all-zeros to all-ones, the first one being the most significant bit: for two inputs
(a, b) the index is 8·g(0,0) + 4·g(0,1) + 2·g(1,0) + g(1,1), which numbers the 16
functions in the usual order FALSE, AND, a∧¬b, a, ¬a∧b, b, XOR, OR, NOR, XNOR, ¬b,
a∨¬b, ¬a, ¬a∨b, NAND, TRUE.

A hidden unit's function is read on the stored row order x = (0,0), (1,0), (0,1),
(1,1), with a = x1 and b = x2, so its index is 8·z₀ + 2·z₁ + 4·z₂ + z₃ in the bits of
its activations on rows 0…3.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

#: display names of the 16 functions of (x1, x2) computed by a hidden unit
UNIT_NAMES = ("FALSE", "AND", "x1∧¬x2", "x1", "¬x1∧x2", "x2", "XOR", "OR",
              "NOR", "XNOR", "¬x2", "x2→x1", "¬x1", "x1→x2", "NAND", "TRUE")
#: the same, spelt with the characters CF allows in flag_meanings (alphanumerics and _-.+@)
UNIT_CF_NAMES = ("FALSE", "AND", "x1_andnot_x2", "x1", "x2_andnot_x1", "x2", "XOR", "OR",
                 "NOR", "XNOR", "NOT_x2", "x2_imp_x1", "NOT_x1", "x1_imp_x2", "NAND", "TRUE")
#: names of a two-input output gate g(a, b); the arguments follow in the label
GATE2_NAMES = ("FALSE", "AND", "ANDNOT", "A", "NOTAND", "B", "XOR", "OR",
               "NOR", "XNOR", "NOTB", "ORNOT", "NOTA", "NOTOR", "NAND", "TRUE")
#: symmetric three-input gates by truth-table index (others are named G3_xx in hex)
GATE3_NAMES = {0b00000001: "AND3", 0b01111111: "OR3", 0b11111110: "NAND3", 0b10000000: "NOR3",
               0b00010111: "MAJ", 0b11101000: "MINORITY", 0b01101001: "XOR3", 0b10010110: "XNOR3"}
#: weights turning a unit's bits on rows 0..3 into its function index
ROW_WEIGHTS = np.array([8, 2, 4, 1])
CONSTANT_CODES = (0, 15)


def unit_code(bits):
    """Function index (0..15) of hidden units from their bits on the 4 rows (last axis)."""
    b = np.asarray(bits)
    # the four rows one by one: a reduction over a short strided axis is ten times slower
    return sum(b[..., i].astype(np.int64) * int(w) for i, w in enumerate(ROW_WEIGHTS))


@functools.lru_cache(maxsize=32)
def combos(k):
    """(2**k, k) 0/1 array (read-only): every input combination, in truth-table order."""
    out = np.array(list(itertools.product((0, 1), repeat=k)), dtype=np.int8).reshape(2**k, k)
    out.flags.writeable = False
    return out


def table_index(outputs):
    """Truth-table index from the outputs on ``combos(k)`` (first output = most significant)."""
    out = 0
    for v in outputs:
        out = 2 * out + int(bool(v))
    return out


def permute_table(outputs, perm):
    """Outputs of g'(y) = g(x) with x[perm[i]] = y[i]: the same gate with reordered arguments."""
    k = len(perm)
    c = combos(k)
    idx = np.zeros(len(c), dtype=np.int64)
    for i, p in enumerate(perm):
        idx += c[:, i].astype(np.int64) << (k - 1 - p)
    return np.asarray(outputs)[idx]


def depends_on(outputs, k):
    """For each of the k inputs: whether flipping it ever changes the gate's output."""
    g = np.asarray(outputs).reshape((2,) * k)
    return [bool(np.any(np.take(g, 0, axis=i) != np.take(g, 1, axis=i))) for i in range(k)]


def gate_name(outputs, k):
    """Name of a k-input gate from its outputs on ``combos(k)`` (CF-safe characters only)."""
    index = table_index(outputs)
    if k == 1:
        return ("FALSE", "ID", "NOT", "TRUE")[index]
    if k == 2:
        return GATE2_NAMES[index]
    if k == 3 and index in GATE3_NAMES:
        return GATE3_NAMES[index]
    return f"G{k}_{index:0{max(1, 2**k // 4)}x}"
