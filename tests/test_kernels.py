"""kernels.train against the book-style numpy references, and its contracts."""
import numpy as np
import pytest

from xorsweep.kernels.vocab import RULE_PARTS
from xorsweep import kernels
import reference as ref
from conftest import COMBOS, bits, random_starts

GROUPS = ("W1", "b1", "W2", "b2")


def _ref_train(rule, starts, i, lr, steps, dtype=np.float64):
    """The reference run of ``rule``: a (gradient, update) pair, or a named rule."""
    W1, b1, W2, b2 = (a[i] for a in starts)
    p = ref.start(W1, W2, b1, b2, dtype=dtype)
    if rule == "seed":
        return ref.train_seed(p, lr, steps)
    if rule == "gd":
        return ref.train_gd(p, lr, steps)
    return ref.train(p, *rule, lr, steps)


def _train(starts, rule, **kw):
    """kernels.train with a named rule or a (gradient, update) pair."""
    if isinstance(rule, str):
        return kernels.train(*starts, rule=rule, **kw)
    return kernels.train(*starts, gradient=rule[0], update=rule[1], **kw)


def _assert_matches_reference(r, starts, rule, lr, steps, check):
    for i in range(len(starts[0])):
        p = _ref_train(rule, starts, i, lr, steps)
        o = ref.outcome(p)
        for g in GROUPS:
            check(getattr(r, g)[i], p[g])
        check(r.z1[i], o["z1"])
        check(r.y[i], o["y"])
        check(r.loss[i], o["loss"])
        assert r.accuracy[i] == o["accuracy"]
        np.testing.assert_array_equal(r.predicted[i], o["predicted"])


@pytest.mark.parametrize("rule", COMBOS + list(RULE_PARTS), ids=str)
@pytest.mark.parametrize("H", [1, 2, 3, 5])
def test_bit_identical_to_reference_with_the_same_elementary_functions(rule, H, exact_ops):
    """With the project's exp/log and an in-order dot, the book-style numpy code gives the
    kernels' bits exactly, for each gradient with each update order and for the named
    rules: the kernels compute the same operations in the same order."""
    starts = random_starts(7, H=H, seed=H)
    r = _train(starts, rule, lr=2.0, steps=4, arith="exact")
    with ref.use_ops(*exact_ops):
        _assert_matches_reference(r, starts, rule, 2.0, 4, lambda a, b: np.testing.assert_array_equal(bits(a), bits(np.asarray(b))))


@pytest.mark.parametrize("rule", COMBOS, ids=str)
@pytest.mark.parametrize("H", [1, 3, 4])
@pytest.mark.parametrize("arith, ops", [("exact-fma", "fma_ops"), ("exact-fma2", "fma2_ops")])
def test_exact_fma_bit_identical_to_reference_with_its_functions(rule, H, arith, ops, request):
    """arith="exact-fma" and "exact-fma2" differ from "exact" only in exp/log: the book-style
    code with their exp/log gives their bits exactly."""
    starts = random_starts(7, H=H, seed=10 + H)
    r = _train(starts, rule, lr=2.0, steps=4, arith=arith)
    with ref.use_ops(*request.getfixturevalue(ops)):
        _assert_matches_reference(r, starts, rule, 2.0, 4, lambda a, b: np.testing.assert_array_equal(bits(a), bits(np.asarray(b))))


@pytest.mark.parametrize("rule", COMBOS, ids=str)
def test_exact_fma_variants_are_close_to_exact_and_differ_in_bits(rule):
    starts = random_starts(64, seed=5)
    a = _train(starts, rule, steps=3, arith="exact")
    b = _train(starts, rule, steps=3, arith="exact-fma")
    c = _train(starts, rule, steps=3, arith="exact-fma2")
    for other in (b, c):
        for g in GROUPS:
            np.testing.assert_allclose(getattr(a, g), getattr(other, g), rtol=0,
                                       atol=1e-12 if rule[0] == "analytic" else 1e-10)
        assert not np.array_equal(bits(a.W1), bits(other.W1))  # a different arithmetic, really used
    assert not np.array_equal(bits(b.W1), bits(c.W1))


@pytest.mark.parametrize("rule", COMBOS, ids=str)
@pytest.mark.parametrize("H", [1, 3, 5])
def test_agrees_with_numpy_reference_over_first_steps(rule, H):
    """Against numpy's own exp/log/dot (platform-dependent last bits). The numerical
    gradient divides a 1-ulp loss difference by 2h = 2e-4, so its floor is
    ~lr * 1e-16 / 2e-4 per step, above 1e-12."""
    atol = 1e-12 if rule[0] == "analytic" else 1e-10
    starts = random_starts(7, H=H, seed=H)
    r = _train(starts, rule, lr=2.0, steps=4)
    _assert_matches_reference(r, starts, rule, 2.0, 4, lambda a, b: np.testing.assert_allclose(a, b, rtol=0, atol=atol))


@pytest.mark.parametrize("rule", COMBOS, ids=str)
def test_outcomes_agree_with_reference_after_full_training(rule):
    starts = random_starts(16, std=1.0, seed=11)
    r = _train(starts, rule, lr=5.0, steps=100)
    agree = 0
    for i in range(16):
        o = ref.outcome(_ref_train(rule, starts, i, 5.0, 100))
        agree += np.array_equal(r.predicted[i], o["predicted"])
    # chaos may flip a rare start whose outcome hangs on the last bits of exp
    assert agree >= 15


@pytest.mark.parametrize("arith", ["exact", "libm"])
def test_float32_tracks_float64_over_first_steps(arith):
    starts = random_starts(5, seed=3)
    r32 = kernels.train(*starts, rule="gd", lr=1.0, steps=3, dtype="float32", arith=arith)
    r64 = kernels.train(*starts, rule="gd", lr=1.0, steps=3)
    assert r32.W1.dtype == np.float32 and r32.loss.dtype == np.float32
    for g in GROUPS:
        np.testing.assert_allclose(getattr(r32, g), getattr(r64, g), rtol=0, atol=2e-5)


@pytest.mark.parametrize("rule", COMBOS, ids=str)
def test_libm_variant_is_close_to_exact(rule):
    atol = 1e-12 if rule[0] == "analytic" else 1e-10
    starts = random_starts(9, seed=4)
    a = _train(starts, rule, steps=3, arith="exact")
    b = _train(starts, rule, steps=3, arith="libm")
    for g in GROUPS:
        np.testing.assert_allclose(getattr(a, g), getattr(b, g), rtol=0, atol=atol)


@pytest.mark.parametrize("rule", COMBOS, ids=str)
def test_trajectory_starts_at_the_start_and_ends_at_the_finals(rule):
    starts = random_starts(3, seed=5)
    r = _train(starts, rule, steps=10, record_every=5)
    t = r.trajectory
    np.testing.assert_array_equal(t.steps, [0, 5, 10])
    for g, start in zip(GROUPS, starts):
        assert getattr(t, g).shape == (3, 3) + start.shape[1:]
        np.testing.assert_array_equal(getattr(t, g)[:, 0], start)
        np.testing.assert_array_equal(getattr(t, g)[:, -1], getattr(r, g))
    np.testing.assert_array_equal(t.loss[:, -1], r.loss)
    np.testing.assert_array_equal(t.accuracy[:, -1], r.accuracy)
    mid = _train(starts, rule, steps=5)
    np.testing.assert_array_equal(t.W2[:, 1], mid.W2)
    np.testing.assert_array_equal(t.loss[:, 1], mid.loss)


def test_the_named_rules_are_their_two_parts_and_parts_default_to_the_seed_rule():
    starts = random_starts(5, seed=9)
    for rule, (gradient, update) in RULE_PARTS.items():
        a = kernels.train(*starts, rule=rule, steps=3)
        b = kernels.train(*starts, gradient=gradient, update=update, steps=3)
        c = kernels.train(*starts, rule=rule, gradient=gradient, update=update, steps=3)
        for g in GROUPS:
            np.testing.assert_array_equal(bits(getattr(a, g)), bits(getattr(b, g)))
            np.testing.assert_array_equal(bits(getattr(a, g)), bits(getattr(c, g)))
    one = kernels.train(*starts, gradient="analytic", steps=3)  # update from the default rule: sequential
    both = kernels.train(*starts, gradient="analytic", update="sequential", steps=3)
    np.testing.assert_array_equal(bits(one.W1), bits(both.W1))
    gd = kernels.train(*starts, rule="gd", steps=3)
    assert not np.array_equal(bits(one.W1), bits(gd.W1))  # the update order really changes the run


def test_trajectory_records_only_multiples_of_k():
    r = kernels.train(*random_starts(2), rule="gd", steps=7, record_every=3)
    np.testing.assert_array_equal(r.trajectory.steps, [0, 3, 6])


def test_divergence_is_flagged_per_network_not_raised():
    W1, b1, W2, b2 = random_starts(4, seed=6)
    W1[2, 0, 0] = np.nan
    r = kernels.train(W1, b1, W2, b2, rule="gd", steps=20)
    np.testing.assert_array_equal(r.diverged, [False, False, True, False])
    wild = kernels.train(*random_starts(4, std=3.0, seed=7), rule="gd", lr=1e6, steps=50)
    assert wild.diverged.dtype == bool and wild.loss.shape == (4,)
    W1, b1, W2, b2 = random_starts(2, seed=8)
    W2[1] = 1.7e308  # the logits overflow to inf, inf - inf = NaN
    huge = kernels.train(W1, b1, W2, b2, rule="seed", steps=3)
    np.testing.assert_array_equal(huge.diverged, [False, True])


def test_zero_steps_returns_the_start():
    starts = random_starts(3)
    r = kernels.train(*starts, rule="seed", steps=0)
    for g, start in zip(GROUPS, starts):
        np.testing.assert_array_equal(getattr(r, g), start)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rule": "adam"}, "rule"),
        ({"gradient": "exact"}, "gradient"),
        ({"update": "random"}, "update"),
        ({"rule": "seed", "gradient": "analytic"}, "gradient 'analytic' contradicts rule 'seed'"),
        ({"rule": "gd", "update": "sequential"}, "update 'sequential' contradicts rule 'gd'"),
        ({"rule": "gd", "steps": -1}, "steps"),
        ({"rule": "gd", "steps": 2.5}, "steps"),
        ({"rule": "gd", "steps": 2**31 - 1}, "steps must be an integer >= 0 and <= 2147483646"),
        ({"rule": "gd", "lr": float("nan")}, "lr"),
        ({"rule": "gd", "dtype": "float16"}, "dtype"),
        ({"rule": "gd", "arith": "fast"}, "arith"),
        ({"rule": "gd", "record_every": 0}, "record_every"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kernels.train(*random_starts(1), **kwargs)


def test_bad_shapes_name_the_array():
    W1, b1, W2, b2 = random_starts(2)
    with pytest.raises(ValueError, match="W2"):
        kernels.train(W1, b1, W2[:, :2], b2, rule="gd")
    with pytest.raises(ValueError, match="b1"):
        kernels.train(W1, b1[:1], W2, b2, rule="gd")


def _machine_code(entry, sig):
    """The x86-64 instructions of a numba entry compiled for ``sig``, decoded by capstone
    from its object code: the object this process compiled, or the one numba's cache holds
    (loaded code has no assembly listing to inspect; the cache file keeps the object it runs)."""
    import capstone
    import llvmlite.binding as llb

    library = entry.overloads[sig].library
    obj = library._compiled_object  # kept while this process compiled it (object caching)
    if obj is None:  # loaded from the cache, which consumed its buffer: read the cache file
        cache = entry._cache
        data = cache._cache_file.load(cache._index_key(sig, entry.targetctx.codegen()))
        assert data is not None, "the entry is neither compiled here nor in numba's cache"
        _, kind, (obj, _bitcode) = data[0]
        assert kind == "object", kind
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    found = [(ins.mnemonic, ins.op_str) for section in llb.ObjectFileRef.from_data(obj).sections()
             if section.is_text() for ins in md.disasm(section.data(), 0)]
    assert len(found) > 1000, len(found)  # the whole step, not a stub
    return found


@pytest.mark.skipif(__import__("platform").machine().lower() not in ("x86_64", "amd64"), reason="x86 mnemonics")
@pytest.mark.parametrize("rule", ["gd", "seed"])
def test_kernel_machine_code_fma_only_where_written(rule):
    """The kernels' machine code as it runs (H = 3, one thread: gd's fused step, the seed
    rule's constant-H entry, float64 and any other types this process has run them with,
    from numba's cache or compiled here): packed hardware
    FMA with exact-fma and exact-fma2, and no fused multiply-add of any kind with exact (no
    contraction)."""
    import re

    from xorsweep.kernels import gd, seed
    from xorsweep.kernels.xmath import ARITH_CODES

    module = gd if rule == "gd" else seed
    for arith, want in (("exact", False), ("exact-fma", True), ("exact-fma2", True)):
        entry = module.TRAIN[ARITH_CODES[arith]][False, True]
        kernels.train(*random_starts(64, seed=3), rule=rule, steps=2, dtype="float64", arith=arith, threads=1)
        for sig in entry.signatures:  # the one train used, and any an earlier test compiled
            code = _machine_code(entry, sig)
            any_fma = [i for i in code if re.match(r"vfn?m(?:add|sub)", i[0])]
            packed = [i for i in any_fma if i[0][-2:] in ("pd", "ps") and re.search(r"\b[yz]mm", i[1])]
            print(f"\n{rule} {arith}: {len(code)} instructions, {len(any_fma)} fma, {len(packed)} packed")
            assert bool(any_fma) == want, sig
            assert bool(packed) == want, sig


@pytest.mark.parametrize("B", [1, 64, 130, 5000])
def test_results_own_their_memory_across_calls(B):
    """train keeps its packed buffers between calls of the same shapes (kernels.batch._Scratch):
    a result must never point into them, so the next call, with other starts, changes no
    array of an earlier result (B = 1 and 64: one chunk, where an unpacking reshape can be
    a view; B = 5000: results in recycled memory, kernels.recycle)."""
    from xorsweep.kernels import batch

    first = kernels.train(*random_starts(B, seed=1), rule="gd", steps=5)
    kept = {f: getattr(first, f).copy() for f in ("W1", "b1", "W2", "b2", "loss", "accuracy", "predicted", "z1", "y",
                                                   "diverged", "solved_step", "settled_step", "grad_norm")}
    second = kernels.train(*random_starts(B, seed=2), rule="gd", steps=5)
    assert batch._SCRATCH.kept  # the buffers were kept, and used by the second call
    for name, before in kept.items():
        after = getattr(first, name)
        np.testing.assert_array_equal(bits(after), bits(before), err_msg=name)
        assert not any(np.may_share_memory(after, a) for a in batch._SCRATCH.kept.values()), name
        assert not np.array_equal(bits(getattr(second, name)), bits(before)) or name in (
            "accuracy", "predicted", "diverged", "solved_step", "settled_step"), name


def test_a_dropped_result_s_memory_is_used_again_and_a_kept_view_s_is_not():
    """The memory of a result the caller dropped goes to the next call (kernels.recycle: no
    page faults); while any view of it lives (here one network's W1) it is not reused, and
    the view keeps its bits through later calls."""
    from xorsweep.kernels import batch

    starts = random_starts(5000, seed=3)
    first = kernels.train(*starts, rule="gd", steps=5)
    where = first.z1.__array_interface__["data"][0]
    del first
    second = kernels.train(*random_starts(5000, seed=4), rule="gd", steps=5)
    assert second.z1.__array_interface__["data"][0] == where  # recycled
    view, want = second.W1[17], second.W1[17].copy()
    del second
    for seed in (5, 6):
        later = kernels.train(*random_starts(5000, seed=seed), rule="gd", steps=5)
        assert not any(np.may_share_memory(view, getattr(later, f)) for f in ("W1", "b1", "W2", "b2", "z1", "y"))
        np.testing.assert_array_equal(bits(view), bits(want))
        del later
    again = kernels.train(*starts, rule="gd", steps=5)  # the same bits from recycled memory
    fresh = kernels.train(*starts, rule="gd", steps=5, threads=1)
    for f in ("W1", "z1", "y", "loss", "predicted", "diverged", "solved_step", "settled_step", "grad_norm"):
        np.testing.assert_array_equal(bits(getattr(again, f)), bits(getattr(fresh, f)), err_msg=f)
    assert batch._OUT.held_bytes <= batch._OUT.limit


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_division_softmax_output_has_the_bits_of_softmax2(dtype):
    """The seed rule's perturbed losses take the label's softmax output with one division
    (``lanes.softmax2_of``: the numerator chosen first); it must be softmax2's output bit for
    bit, in a vectorised lane loop as the kernels run it, for every arithmetic: random
    logits over many scales, ties, signed zeros, infinities and NaN payloads."""
    from numba import njit

    from xorsweep.kernels.lanes import softmax2, softmax2_of
    from xorsweep.kernels.xmath import EXACT, EXACT_FMA, EXACT_FMA2, LIBM

    def make(code):
        @njit(error_model="numpy")
        def both(a0, a1, out):
            for l in range(a0.size):
                y0, y1 = softmax2(a0[l], a1[l], dtype(1.0), code)
                out[0, l], out[1, l] = y0, y1
                out[2, l] = softmax2_of(a0[l], a1[l], 0, dtype(1.0), code)
                out[3, l] = softmax2_of(a0[l], a1[l], 1, dtype(1.0), code)
        return both

    rng = np.random.default_rng(7)
    n = 1 << 14
    a0 = (rng.standard_normal(n) * 10.0 ** rng.integers(-8, 4, n)).astype(dtype)
    a1 = (rng.standard_normal(n) * 10.0 ** rng.integers(-8, 4, n)).astype(dtype)
    a1[::7] = a0[::7]  # ties: d = 0
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e30, -1e30, 5e-324, 700.0, -745.0], dtype)
    nan_payload = np.array([0x7FF8000000000123 if dtype == np.float64 else 0x7FC00123], np.uint64 if dtype ==
                           np.float64 else np.uint32).view(dtype)
    special = np.concatenate([special, nan_payload, -nan_payload])
    s0, s1 = np.meshgrid(special, special)
    a0 = np.concatenate([a0, s0.ravel()])
    a1 = np.concatenate([a1, s1.ravel()])
    for code in (EXACT, EXACT_FMA, EXACT_FMA2, LIBM):
        out = np.empty((4, a0.size), dtype)
        make(code)(a0, a1, out)
        np.testing.assert_array_equal(bits(out[2]), bits(out[0]), err_msg=f"arith {code}, label 0")
        np.testing.assert_array_equal(bits(out[3]), bits(out[1]), err_msg=f"arith {code}, label 1")


def _result_arrays(res):
    out = {f: getattr(res, f) for f in ("W1", "b1", "W2", "b2", "loss", "accuracy", "predicted", "z1", "y", "diverged",
                                        "solved_step", "settled_step", "grad_norm", "lyapunov", "lyapunov_traj")}
    if res.trajectory is not None:
        out.update({f"traj_{f}": getattr(res.trajectory, f) for f in ("W1", "b1", "W2", "b2", "loss", "accuracy")})
    return {k: v for k, v in out.items() if v is not None}


@pytest.mark.parametrize("B,H,kw", [(63, 2, dict(steps=0, track=False)), (64, 3, dict(steps=7)),
                                    (65, 5, dict(steps=7, dtype=np.float32)), (130, 3, dict(steps=9, lyapunov=True)),
                                    (130, 2, dict(steps=0)), (5000, 3, dict(steps=3, rule="gd", track=False)),
                                    (65, 3, dict(steps=6, record_every=2, dtype=np.float32, rule="gd"))])
def test_every_output_element_is_written_whatever_the_recycled_memory_held(monkeypatch, B, H, kw):
    """Results come in recycled memory that is not cleared: a call whose blocks held all
    zero bytes, all 0xFF (NaN, -1, True) or all 0x5A bytes returns the same bits, so no
    element is left unwritten (chunk edges: B = 63, 64, 65, 130; H = 2, 3 (fused), 5)."""
    from xorsweep.kernels import batch
    from xorsweep.kernels.recycle import Recycler

    r = Recycler(64 << 20, min_bytes=1)  # every array recycled, the smallest too
    monkeypatch.setattr(batch, "_OUT", r)
    starts = random_starts(B, H=H, seed=B + H)
    got = {}
    for pattern in (0x00, 0xFF, 0x5A):
        res = kernels.train(*starts, **kw)
        sizes = [b.nbytes for b in r._blocks]
        assert sizes  # the results came from r
        r.clear()
        poisoned = [r.empty((n,), np.uint8) for n in sizes]
        for p in poisoned:
            p.fill(pattern)
        del poisoned, res  # the pool now holds exactly these blocks, free
        res = kernels.train(*starts, **kw)
        assert r.free_bytes == 0  # every poisoned block was taken
        got[pattern] = {k: bits(v).copy() for k, v in _result_arrays(res).items()}
        del res
    for k, want in got[0x00].items():
        for pattern in (0xFF, 0x5A):
            np.testing.assert_array_equal(got[pattern][k], want, err_msg=f"{k}, blocks of 0x{pattern:02X}")
