"""The determinism contract: a network's bits depend only on its own start and settings."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xorsweep import kernels
from xorsweep.kernels.vocab import ARITHS
from conftest import COMBOS, bits, random_starts

GROUPS = ("W1", "b1", "W2", "b2", "loss", "accuracy", "z1", "y", "predicted", "diverged", "solved_step",
          "settled_step", "grad_norm")


def _assert_same_networks(a, b, index, index_b=slice(None)):
    """Networks ``index`` of result a are bit-identical to networks ``index_b`` of b."""
    for g in GROUPS:
        np.testing.assert_array_equal(bits(getattr(a, g)[index]), bits(getattr(b, g)[index_b]), err_msg=g)


@pytest.mark.parametrize("arith", list(ARITHS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    B=st.integers(1, 150),
    seed=st.integers(0, 2**32 - 1),
    rule=st.sampled_from(COMBOS),
    dtype=st.sampled_from(["float64", "float32"]),
    H=st.sampled_from([1, 3, 4]),
    data=st.data(),
)
def test_bits_do_not_depend_on_batch_position_or_threads(arith, B, seed, rule, dtype, H, data):
    starts = random_starts(B, H=H, std=1.0, seed=seed)
    kw = dict(gradient=rule[0], update=rule[1], lr=5.0, steps=12 if rule[0] == "numerical" else 60, dtype=dtype,
              arith=arith)
    whole = kernels.train(*starts, **kw, threads=2)

    order = np.array(data.draw(st.permutations(range(B))))
    shuffled = kernels.train(*(a[order] for a in starts), **kw, threads=1)
    _assert_same_networks(whole, shuffled, order)

    i = data.draw(st.integers(0, B - 1))
    alone = kernels.train(*(a[i:i + 1] for a in starts), **kw)
    _assert_same_networks(whole, alone, slice(i, i + 1))

    lo = data.draw(st.integers(0, B - 1))
    part = kernels.train(*(a[lo:] for a in starts), **kw, threads=1)
    _assert_same_networks(whole, part, slice(lo, None))


@pytest.mark.parametrize("arith", list(ARITHS))
def test_bits_do_not_depend_on_padding_neighbours(arith):
    """A network beside NaN-diverging neighbours, or beside copies of itself, is unchanged."""
    W1, b1, W2, b2 = random_starts(70, seed=9)
    kw = dict(rule="gd", steps=40, arith=arith)
    base = kernels.train(W1, b1, W2, b2, **kw)
    W1n = W1.copy()
    W1n[1::2] = np.nan
    mixed = kernels.train(W1n, b1, W2, b2, **kw)
    _assert_same_networks(base, mixed, slice(0, None, 2), slice(0, None, 2))
    assert mixed.diverged[1::2].all() and not mixed.diverged[0::2].any()


def test_concurrent_calls_from_python_threads_are_safe_and_identical():
    """Tasks of a multi-threaded Dask worker call train at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    starts = [random_starts(50, seed=s) for s in range(6)]
    alone = [kernels.train(*s, rule="gd", steps=30, threads=1) for s in starts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda s: kernels.train(*s, rule="gd", steps=30, threads=2), starts))
    for a, b in zip(alone, together):
        _assert_same_networks(a, b, slice(None))


def test_a_process_loading_the_cache_gets_the_bits_of_this_one(tmp_path):
    """A process that compiles a kernel calls numba's own library copy of its chunk function,
    one that loads it from the cache the copy linked into the entry (README, Speed): two
    machine codes for one source (from a fresh clone, as in CI, this test process is the one
    that compiled). Both must give the same bits, outcome tracking included, for each
    gradient, both update orders, the fused (H = 3) and staged (H = 4) gd steps, threaded
    and not."""
    import subprocess
    import sys

    cases = [(g, u, H, threads) for (g, u) in COMBOS for H in (3, 4) for threads in (1, 2) if g == "analytic" or H == 3]
    code = f"""
import numpy as np, sys
sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent)!r})
from conftest import random_starts
from xorsweep import kernels
out = {{}}
for k, (g, u, H, threads) in enumerate({cases!r}):
    r = kernels.train(*random_starts(70, H=H, seed=k), gradient=g, update=u, steps=40, threads=threads)
    out.update({{f"{{k}}_{{name}}": getattr(r, name) for name in {list(GROUPS)!r}}})
np.savez({str(tmp_path / "other.npz")!r}, **out)
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)
    other = np.load(tmp_path / "other.npz")
    for k, (g, u, H, threads) in enumerate(cases):
        r = kernels.train(*random_starts(70, H=H, seed=k), gradient=g, update=u, steps=40, threads=threads)
        for name in GROUPS:
            np.testing.assert_array_equal(bits(getattr(r, name)), bits(other[f"{k}_{name}"]),
                                          err_msg=f"{g} {u} H={H} threads={threads} {name}")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rule", ["gd", "seed"])
def test_constant_h_entries_give_the_bits_of_the_general_code(rule, dtype):
    """At H = 3 the kernels run entries compiled with H a constant (gd's fused step, the seed
    rule's one-loop row terms and one-division losses); the general entries (H a run-time
    value) must give the same bits on the same chunks: parameters, outcome tracking and the
    gradient norm, every arithmetic, starts from tiny to overflowing. Where a result is NaN
    only NaN-ness is compared: the sign of a NaN is not part of the contract (README)."""
    from xorsweep.kernels import gd, seed
    from xorsweep.kernels.layout import LANES, constants, pack
    from xorsweep.kernels.track import TRACK_NORM
    from xorsweep.kernels.xmath import ARITH_CODES

    module, sequential, lr = (gd, False, 5.0) if rule == "gd" else (seed, True, 1.0)
    W1, b1, W2, b2 = random_starts(128, seed=11)
    scale = 10.0 ** np.repeat(np.arange(-6, 4), 13)[:128]  # tiny to saturating starts
    W1, b1, W2, b2 = (a * scale.reshape((-1,) + (1,) * (a.ndim - 1)) for a in (W1, b1, W2, b2))
    W1[5, 0, 0], b2[6, 1], W2[7, 2, 0] = np.inf, -np.inf, float(np.finfo(dtype).max) / 4  # overflow in a step or two
    P0 = pack(W1, b1, W2, b2, dtype)
    c = constants(dtype, lr, 1e-4)
    ch, nP = P0.shape[0], P0.shape[1]

    def run(fused):
        P = P0.copy()
        traj, tl = np.zeros((ch, 3, nP, LANES), dtype), np.zeros((ch, 3, LANES), dtype)  # steps 0, 3, 6
        prev = np.full((ch, 4, LANES), -1, np.int8)
        last, solved = np.zeros((ch, LANES), np.int32), np.zeros((ch, LANES), np.int32)
        gnorm = np.full((ch, LANES), np.nan, dtype)
        entry = module.TRAIN[code][False, fused]
        entry(P, c, 6, 3, traj, tl, tl.copy(), prev, last, solved, gnorm, TRACK_NORM, sequential, fused)
        return P, prev, last, solved, gnorm, traj, tl

    for arith, code in ARITH_CODES.items():
        for name, a, b in zip(("P", "prev", "last", "solved", "gnorm", "traj", "tloss"), run(False), run(True)):
            if a.dtype.kind == "f":
                nan = np.isnan(a)
                np.testing.assert_array_equal(nan, np.isnan(b), err_msg=f"{arith} {name} NaN-ness")
                a, b = np.where(nan, 0, a), np.where(nan, 0, b)
            np.testing.assert_array_equal(bits(a), bits(b), err_msg=f"{arith} {name}")
