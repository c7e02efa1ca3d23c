"""Outcome tracking in the kernels (against the reference oracle) and the three partitions
of kernels.outcomes: fixed tables, the artifacts of the old labels, symmetries, decoding."""
import itertools

import numpy as np
import pytest

import reference as ref
from conftest import COMBOS, bits, random_starts
from test_analysis_codes import forward, network
from xorsweep import kernels
from xorsweep.kernels import outcomes as O
from xorsweep.kernels.vocab import published_start

AND_FAMILY = "OR∧¬AND family {AND|NAND, OR|NOR}"
NAND_FAMILY = "(x1∧¬x2)∨(¬x1∧x2) family {x1∧¬x2|x1→x2, ¬x1∧x2|x2→x1}"


# ---- tracking in the kernels ---------------------------------------------------------
@pytest.mark.parametrize("rule", COMBOS, ids=str)
@pytest.mark.parametrize("H", [1, 3, 4])
def test_tracking_matches_the_reference_oracle(rule, H, exact_ops):
    steps = 40 if rule[0] == "analytic" else 8
    starts = random_starts(6, H=H, std=1.5, seed=20 + H)
    r = kernels.train(*starts, gradient=rule[0], update=rule[1], lr=5.0, steps=steps, arith="exact")
    with ref.use_ops(*exact_ops):
        for i in range(6):
            p = ref.start(starts[0][i], starts[2][i], starts[1][i], starts[3][i])
            _, o = ref.train_tracked(p, rule, 5.0, steps)
            assert r.solved_step[i] == o["solved_step"], i
            assert r.settled_step[i] == o["settled_step"], i
            np.testing.assert_allclose(r.grad_norm[i], o["grad_norm"], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("tracking", ["TRACK", "TRACK_NORM"])
def test_fused_steps_state_rows_give_the_general_codes_and_steps(dtype, tracking):
    """gd's fused step (H = 3) keeps the tracking state in rows as wide as its floats
    (track.state_rows: the codes packed in one float, float64 or int32 steps), packed from
    and unpacked into the int8 /
    int32 rows; over 60 steps, in two calls (the state carried between them), with the
    last step staged (TRACK_NORM) or not, it gives the general code's prev, last and solved."""
    from xorsweep.kernels import gd, track
    from xorsweep.kernels.layout import LANES, constants, pack
    from xorsweep.kernels.xmath import ARITH_CODES

    mode = getattr(track, tracking)
    W1, b1, W2, b2 = random_starts(192, seed=5)
    scale = np.repeat([0.3, 1.0, 3.0], 64)  # slow, lively and saturated networks
    P0 = pack(W1 * scale[:, None, None], b1 * scale[:, None], W2 * scale[:, None, None], b2 * scale[:, None], dtype)
    c = constants(dtype, 5.0, 1e-4)
    ch, nP = P0.shape[0], P0.shape[1]
    code = ARITH_CODES["exact-fma2"]

    def run(fused):
        P = P0.copy()
        prev = np.full((ch, 4, LANES), -1, np.int8)
        last, solved = np.zeros((ch, LANES), np.int32), np.zeros((ch, LANES), np.int32)
        gnorm = np.full((ch, LANES), np.nan, dtype)
        none = np.zeros((ch, 0, nP, LANES), dtype), np.zeros((ch, 0, LANES), dtype), np.zeros((ch, 0, LANES), dtype)
        for steps in (23, 37):
            gd.TRAIN[code][False, fused](P, c, steps, 0, *none, prev, last, solved, gnorm, mode, False, fused)
        return prev, last, solved

    general, fused = run(False), run(True)
    assert len(np.unique(general[1])) > 10 and (general[2] > 0).any()  # the state did change, at many steps
    for name, a, b in zip(("prev", "last", "solved"), general, fused):
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_packed_state_round_trips_every_code(dtype):
    """pack_state / unpack_state: every decision code with every unit code in every place
    (and the -1 of a lane never seen) come back as they were; two different states never
    pack to one number; last and solved are copied both ways."""
    from numba import njit

    from xorsweep.kernels.layout import LANES
    from xorsweep.kernels.track import pack_state, state_rows, unpack_state

    @njit
    def round_trip(prev, last, solved, like):
        state, lw, sw = state_rows(LANES, like)
        pack_state(prev, last, solved, state, lw, sw)
        back, last2, solved2 = np.empty_like(prev), np.empty_like(last), np.empty_like(solved)
        unpack_state(state, lw, sw, back, last2, solved2)
        return state, back, last2, solved2

    rng = np.random.default_rng(3)
    codes = np.array(list(itertools.product(range(16), repeat=4)))  # (d, u0, u1, u2): 65,536 states
    codes = np.concatenate([codes, np.full((LANES, 4), -1)])
    seen = {}
    for k in range(0, len(codes), LANES):
        block = codes[k:k + LANES]
        n = len(block)
        prev = np.full((4, LANES), -1, np.int8)
        prev[:, :n] = block.T
        last = rng.integers(0, 2**31 - 1, LANES).astype(np.int32)
        solved = rng.integers(0, 2**31 - 1, LANES).astype(np.int32)
        state, back, last2, solved2 = round_trip(prev.ravel(), last, solved, np.zeros(1, dtype))
        np.testing.assert_array_equal(back.reshape(4, LANES), prev)
        np.testing.assert_array_equal(last2, last)
        np.testing.assert_array_equal(solved2, solved)
        for l in range(n):
            seen.setdefault(float(state[l]), tuple(block[l]))
            assert seen[float(state[l])] == tuple(block[l])
    assert len(seen) == 16**4 + 1


def test_state_rows_hold_step_numbers_exactly():
    """Beside float32 the fused step's step numbers are int32: a float32 would round 2**24 + 1."""
    from numba import njit

    from xorsweep.kernels.track import as_step

    @njit
    def steps(s, one):
        return as_step(s, one), as_step(s + 1, one)

    for one in (np.float64(1), np.float32(1)):
        for s in (0, 2 ** 24, 2 ** 31 - 2):
            a, b = steps(s, one)
            assert int(a) == s and int(b) == s + 1


def test_tracking_sees_solved_networks_and_zero_steps():
    W1, b1, W2, b2 = network(["NAND", "OR"], [20, 20], -31)
    r = kernels.train(W1, b1, W2, b2, rule="gd", lr=0.1, steps=20)
    assert (r.solved_step[0], r.settled_step[0]) == (0, 0) and r.grad_norm[0] > 0
    r0 = kernels.train(W1, b1, W2, b2, rule="gd", steps=0)
    assert (r0.solved_step[0], r0.settled_step[0]) == (0, 0) and np.isnan(r0.grad_norm[0])
    fails = kernels.train(W1, b1, W2, b2 + [0, 100], rule="gd", lr=0.0, steps=3)
    assert fails.solved_step[0] == -1


@pytest.mark.parametrize("rule", COMBOS, ids=str)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("H", [2, 3])
def test_tracking_changes_no_other_bit(rule, dtype, H):
    starts = random_starts(70, H=H, std=1.0, seed=H)
    kw = dict(gradient=rule[0], update=rule[1], lr=5.0, steps=30 if rule[0] == "analytic" else 6, dtype=dtype)
    on, off = kernels.train(*starts, **kw), kernels.train(*starts, **kw, track=False)
    for g in ("W1", "b1", "W2", "b2", "loss", "accuracy", "z1", "y", "predicted"):
        np.testing.assert_array_equal(bits(getattr(on, g)), bits(getattr(off, g)), err_msg=g)
    assert off.solved_step is None and on.grad_norm.dtype == np.dtype(dtype)
    ds = on.to_dataset()
    assert ds["solved_step"].dtype == np.int32 and "long_name" in ds["settled_step"].attrs


# ---- tables --------------------------------------------------------------------------
def test_tables_are_fixed_and_start_with_pending():
    assert O.threshold_gates(3).__len__() == 104 and len(O.threshold_gates(4)) == 1882
    for H in (1, 2, 3, 5):
        for t in O.tables(H).values():
            assert t[0].display == "pending"
            assert len({n.display for n in t}) == len(t) and len({n.cf for n in t}) == len(t)
            assert all(ch.isalnum() or ch in "_-.+@" for n in t for ch in n.cf)
    assert O.solution_table(3)[3].display == AND_FAMILY and O.solution_table(3)[4].display == NAND_FAMILY
    assert len(O.solution_table(3, fold_swap=True)) < len(O.solution_table(3))
    assert O.label_table(1)[-1].display == "other"  # one unit never solves by its bits


def test_codes_do_not_depend_on_the_block():
    starts = random_starts(300, std=1.0, seed=5)
    r = kernels.train(*starts, rule="gd", lr=5.0, steps=200)
    whole = O.classify_result(r, steps=200)
    assert (whole["outcome"] == 1).sum() > 20 and len(np.unique(whole["label"])) > 3
    for lo, hi in ((0, 17), (17, 180), (180, 300)):
        part = O.classify(r.z1[lo:hi], r.predicted[lo:hi], r.diverged[lo:hi], r.settled_step[lo:hi], 200)
        for k, v in part.items():
            np.testing.assert_array_equal(v, whole[k][lo:hi], err_msg=k)


# ---- hand-built networks: the artifacts of the old labels -------------------------------
def _classify(W1, b1, W2, b2, **kw):
    z1, predicted, _ = forward(W1, b1, W2, b2)
    c = O.classify(z1[None], predicted[None], [False], **kw)
    H = z1.shape[1]
    return {k: O.names(c[k], O.tables(H, kw.get("fold_swap", False))[k])[0] for k in O.CLASS_VARIABLES} | {
        "marginal": bool(c["marginal"][0]), "informative": c["informative"][0].tolist()}


@pytest.mark.parametrize("w_and", [-4, -12, -30])
def test_redundant_unit_does_not_flip_the_label(w_and):
    W1, b1, W2, b2 = network(["NAND", "OR", "AND"], [5, 5, w_and], -7.5)
    c = _classify(W1, b1, W2, b2)
    assert (c["outcome"], c["label"], c["solution"]) == ("solved", "AND(NAND,OR)", AND_FAMILY)
    assert c["informative"] == [True, True, False]


def test_gates_are_named_on_reachable_patterns_only():
    # same units, output weights that disagree only on bit patterns no row produces
    cases = {("NAND", "NAND", "NOR"): [([10, 10, -20], -15), ([10, 10, -40], -15), ([14, 9, -33], -17)],
             ("x1", "x2", "AND"): [([10, 10, -20], -5), ([6, 8, -30], -4), ([20, 7, -40], -3)]}
    for units, weights in cases.items():
        seen = set()
        for out_w, out_b in weights:
            W1, b1, W2, b2 = network(list(units), out_w, out_b)
            assert forward(W1, b1, W2, b2)[2] == 1.0
            seen.add(_classify(W1, b1, W2, b2)["label"])
        assert len(seen) == 1, seen
    W1, b1, W2, b2 = network(["x1", "x2", "AND"], [10, 10, -20], -5)
    assert _classify(W1, b1, W2, b2)["label"] == "G3_2a(x1,x2,AND)"


@pytest.mark.parametrize("activation, marginal", [(0.56, False), (0.54, True)])
def test_the_margin_is_a_flag_not_a_class(activation, marginal):
    # a NAND unit and an OR unit whose row-0 activation is 1 - activation: 0.06 or 0.04 from 0.5
    a = np.log((1 - activation) / activation)  # sigmoid(a) = 1 - activation on row 0 (off)
    W1 = np.array([[-10, 10], [-10, 10]], float)
    b1 = np.array([15, a])
    W2 = np.stack([np.zeros(2), [20, 40]], axis=1)
    b2 = np.array([0.0, -41])
    z1, _, acc = forward(W1, b1, W2, b2)
    assert acc == 1.0 and abs(z1[0, 1] - (1 - activation)) < 1e-12
    c = _classify(W1, b1, W2, b2)
    assert (c["label"], c["marginal"]) == ("AND(NAND,OR)", marginal)


def _reflect(W1, b1, W2, b2, units):
    """z_j -> 1 - z_j for the hidden units ``units``: the same network function."""
    W1, b1, W2, b2 = W1.copy(), b1.copy(), W2.copy(), b2.copy()
    for j in units:
        b2 = b2 + W2[j]
        W1[:, j], b1[j], W2[j] = -W1[:, j], -b1[j], -W2[j]
    return W1, b1, W2, b2


def _solved_finals():
    s = published_start()
    starts = [(np.round(s["W1"], d), np.round(s["W2"], d)) for d in (7, 4)]
    r = kernels.train(np.array([a for a, _ in starts]), np.zeros((2, 3)), np.array([b for _, b in starts]),
                      np.zeros((2, 2)), rule="seed")
    rg = kernels.train(*random_starts(64, std=1.0, seed=3), rule="gd", lr=5.0, steps=500)
    out = [(r.W1[i], r.b1[i], r.W2[i], r.b2[i]) for i in range(2)]
    ok = np.flatnonzero(rg.accuracy == 1.0)[:4]
    return out + [(rg.W1[i], rg.b1[i], rg.W2[i], rg.b2[i]) for i in ok]


@pytest.mark.parametrize("fold_swap", [False, True])
def test_every_reflection_and_permutation_keeps_the_solution(fold_swap):
    for net in _solved_finals():
        base = _classify(*net, fold_swap=fold_swap)
        assert base["outcome"] == "solved"
        variants = []
        for k in range(4):
            for units in itertools.combinations(range(3), k):
                for perm in itertools.permutations(range(3)):
                    W1, b1, W2, b2 = _reflect(*net, units)
                    variants.append((W1[:, perm], b1[list(perm)], W2[list(perm)], b2))
        if fold_swap:
            variants += [(W1[::-1], b1, W2, b2) for W1, b1, W2, b2 in variants]
        for v in variants:
            assert forward(*v)[2] == 1.0
            assert _classify(*v, fold_swap=fold_swap)["solution"] == base["solution"]


def test_a_weight_change_that_keeps_the_function_keeps_the_label():
    rng = np.random.default_rng(0)
    for W1, b1, W2, b2 in _solved_finals():
        base = _classify(W1, b1, W2, b2)
        codes = O.classify(forward(W1, b1, W2, b2)[0][None], [[0, 1, 1, 0]], [False])["hidden_code"]
        for t in np.linspace(0, 1, 25):
            V = (W1 * (1 + 0.3 * t), b1 * (1 + 0.3 * t), W2 * (1 + 2 * t), b2 * (1 + 2 * t))
            V = (V[0] + 0.05 * t * rng.standard_normal(V[0].shape),) + V[1:]
            z1, _, acc = forward(*V)
            if acc == 1.0 and np.array_equal(O.classify(z1[None], [[0, 1, 1, 0]], [False])["hidden_code"], codes):
                assert _classify(*V)["label"] == base["label"]


# ---- the published cases -----------------------------------------------------------------
PUBLISHED = [(None, "fail[0,1,1,1]", "unsolved", "fail[0,1,1,1]"),
             (7, "solved", AND_FAMILY, "AND(NAND,OR)"), (6, "solved", AND_FAMILY, "AND(NAND,OR)"),
             (5, "solved", AND_FAMILY, "AND(NAND,OR)"), (4, "solved", NAND_FAMILY, "NAND(x1→x2,x2→x1)"),
             (3, "solved", "other", "other")]


def test_published_cases_in_three_partitions():
    s = published_start()
    W1 = np.array([s["W1"] if d is None else np.round(s["W1"], d) for d, *_ in PUBLISHED])
    W2 = np.array([s["W2"] if d is None else np.round(s["W2"], d) for d, *_ in PUBLISHED])
    r = kernels.train(W1, np.zeros((6, 3)), W2, np.zeros((6, 2)), rule="seed")
    c = O.classify_result(r, steps=100)
    for k, name in ((1, "outcome"), (2, "solution"), (3, "label")):
        assert O.names(c[name], O.tables(3)[name]) == [p[k] for p in PUBLISHED], name


# ---- readable without this project ------------------------------------------------------
def _store(tmp_path):
    import warnings

    import xarray as xr
    import zarr

    r = kernels.train(*random_starts(12, std=1.0, seed=8), rule="gd", lr=5.0, steps=300)
    c = O.classify_result(r, steps=300)
    ds = xr.Dataset(O.variables(c, ("a", "b"), (3, 4), window=30), coords=O.lookups(3))
    path = str(tmp_path / "o.zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", zarr.errors.ZarrUserWarning)  # consolidated metadata, as the engine
        ds.to_zarr(path, zarr_format=3, consolidated=True)
    return path, c


def test_class_names_decode_with_plain_xarray(tmp_path):
    import xarray as xr

    path, c = _store(tmp_path)
    ds = xr.open_zarr(path)
    for name in O.CLASS_VARIABLES:
        decoded = ds[f"{name}_names"][ds[name]].values  # the documented one-liner
        assert decoded.shape == (3, 4)
        assert decoded.ravel().tolist() == O.names(c[name], O.tables(3)[name])
        assert ds[name].attrs["flag_meanings"].split()[0] == "pending"
    assert ds["unsettled"].attrs["settling_window_steps"] == 30


def test_class_names_decode_with_cf_xarray(tmp_path):
    pytest.importorskip("cf_xarray")
    import xarray as xr

    path, c = _store(tmp_path)
    ds = xr.open_zarr(path)
    assert ds["outcome"].cf.is_flag_variable
    np.testing.assert_array_equal((ds["outcome"].cf == "solved").values.ravel(), c["outcome"] == 1)


def test_block_values_fit_the_store_variables():
    r = kernels.train(*random_starts(6, std=1.0, seed=4), rule="gd", lr=5.0, steps=50, dtype="float32")
    v = O.block_values(r, 50, (2, 3))
    assert set(v) == set(O.STORE_VARIABLES)
    for name, (extra, dtype) in O.STORE_VARIABLES.items():
        assert v[name].dtype == dtype and v[name].shape == (2, 3) + (3,) * len(extra), name
    assert set(O.attrs(3)) >= set(O.STORE_VARIABLES)


def test_class_names_decode_without_this_project(tmp_path):
    import json
    import subprocess
    import sys

    path, c = _store(tmp_path)
    code = ("import sys; sys.modules['xorsweep'] = None\n"
            "import warnings; warnings.simplefilter('error')\n"
            f"import xarray as xr; ds = xr.open_zarr({path!r})\n"
            "import json; print(json.dumps(ds.solution_names[ds.solution].values.ravel().tolist()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == O.names(c["solution"], O.solution_table(3))


@pytest.mark.parametrize("H", [1, 3, 15, 16, 20])
def test_grouping_by_unit_multiset_matches_a_dictionary_of_sorted_rows(H):
    """``classify`` groups solved networks by the multiset of their units' codes: one base-17
    number per row up to H = 15, rows themselves above; either way the groups of a plain
    dictionary of sorted rows, every cell once."""
    rng = np.random.default_rng(H)
    keys = rng.choice([0, 1, 6, 14, 15, 16], size=(500, H)) if H > 3 else rng.integers(0, 17, size=(500, H))
    cells = rng.permutation(10_000)[:500]
    want = {}
    for c, row in zip(cells, keys):
        want.setdefault(tuple(sorted(row)), []).append(c)
    got = O._groups(keys, cells)
    assert {tuple(int(v) for v in row): sorted(these.tolist()) for these, row in got} == \
        {k: sorted(v) for k, v in want.items()}
    assert len(got) == len(want) and sum(len(these) for these, _ in got) == len(cells)
