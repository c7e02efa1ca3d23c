"""Finite-time Lyapunov exponents (kernels.lyapunov): the twin only observes, the
exponent against oracles (a linear map, a slow numpy Benettin, finite differences of the
trained finals), its invariances and its insensitivity to δ and k."""
import dataclasses

import numpy as np
import pytest

import reference as ref
from conftest import bits, random_starts
from xorsweep import kernels
from xorsweep.kernels import lyapunov as L
from xorsweep.kernels.vocab import GROUPS, RULES, join_groups, n_params, split_groups


def _same(a, b):
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "trajectory" and x is not None:
            for g in dataclasses.fields(x):
                np.testing.assert_array_equal(bits(getattr(x, g.name)), bits(getattr(y, g.name)), err_msg=g.name)
        elif isinstance(x, np.ndarray) and f.name not in ("lyapunov", "lyapunov_traj"):
            np.testing.assert_array_equal(bits(x), bits(y), err_msg=f.name)


@pytest.mark.parametrize("rule,H", [("seed", 2), ("gd", 3), ("gd", 2)])
@pytest.mark.parametrize("every", [None, 7])
def test_the_twin_only_observes(rule, H, every):
    """Every value of training, tracking and trajectory included, has the same bits with and
    without the exponent (gd H = 3 is the fused step: the pauses take a staged step)."""
    starts = random_starts(70, H=H, seed=3)
    a = kernels.train(*starts, rule=rule, lr=2.0, steps=33, record_every=every)
    b = kernels.train(*starts, rule=rule, lr=2.0, steps=33, record_every=every, lyapunov=True)
    _same(a, b)
    assert a.lyapunov is None and b.lyapunov.shape == (70,) and np.isfinite(b.lyapunov).all()
    assert (b.lyapunov_traj is None) == (every is None)
    if every:  # the running value ends at the exponent when the last record is the last step
        c = kernels.train(*starts, rule=rule, lr=2.0, steps=35, record_every=7, lyapunov=True)
        np.testing.assert_allclose(c.lyapunov_traj[:, -1], c.lyapunov, rtol=1e-12)
        assert np.isnan(c.lyapunov_traj[:, 0]).all()


@pytest.mark.parametrize("rule", RULES)
def test_training_in_pieces_gives_the_same_finals(rule):
    """Feeding the finals of k steps back into train is one training of all the steps:
    the kernels keep no state across steps but the parameters."""
    starts = random_starts(5, seed=4)
    whole = kernels.train(*starts, rule=rule, lr=3.0, steps=30)
    p = starts
    for _ in range(3):
        r = kernels.train(*p, rule=rule, lr=3.0, steps=10)
        p = (r.W1, r.b1, r.W2, r.b2)
    for g in GROUPS:
        np.testing.assert_array_equal(bits(getattr(whole, g)), bits(getattr(r, g)))


def test_invariant_to_batch_position_size_and_threads():
    starts = random_starts(130, seed=5)
    full = kernels.train(*starts, lyapunov=True, steps=40, threads=2)
    pick = [129, 3, 64, 0]
    part = kernels.train(*(a[pick] for a in starts), lyapunov=True, steps=40, threads=1)
    np.testing.assert_array_equal(bits(full.lyapunov[pick]), bits(part.lyapunov))
    one = kernels.train(*(a[77] for a in starts), lyapunov=True, steps=40)
    np.testing.assert_array_equal(bits(full.lyapunov[77:78]), bits(one.lyapunov))


def test_the_fixed_direction_lies_in_the_moving_subspace():
    for H in (1, 3, 5):
        u = L.direction(H)
        assert abs(np.linalg.norm(u) - 1) < 1e-15
        for a, b in L.frozen_pairs(H):
            assert abs(u[a] + u[b]) < 1e-15
        F = np.zeros((n_params(H), H + 1))
        for i, (a, b) in enumerate(L.frozen_pairs(H)):
            F[[a, b], i] = 2 ** -0.5
        v = np.random.default_rng(H).standard_normal(n_params(H))
        np.testing.assert_allclose(L.project(v, H), v - F @ (F.T @ v), atol=1e-15)


def test_frozen_sums_do_not_move_under_gd():
    """The H + 1 sums the projection removes are the ones training leaves alone."""
    r = kernels.train(*random_starts(8, H=2, seed=6), rule="gd", steps=50)
    s = random_starts(8, H=2, seed=6)
    for (a, b) in L.frozen_pairs(2):
        x0 = join_groups(*s)
        x1 = join_groups(r.W1, r.b1, r.W2, r.b2)
        np.testing.assert_allclose(x1[:, a] + x1[:, b], x0[:, a] + x0[:, b], atol=1e-13)


def _linear_advance(P, A):
    """advance() of a linear map x -> A x applied to every network of P (2·chunks, P, LANES)."""
    def advance(a, n):
        for _ in range(n):
            P[...] = np.einsum("pq,cql->cpl", A, P)
    return advance


def _moving_basis(H, seed):
    """An orthonormal basis (P, 4H + 1) of the moving subspace."""
    M = np.stack([L.project(v, H) for v in np.random.default_rng(seed).standard_normal((4 * H + 1, n_params(H)))], 1)
    return np.linalg.qr(M)[0]


@pytest.mark.parametrize("mu", [[1.1, 0.9, 0.5], [0.8, 0.7, -0.6], [1.0, 0.3, 0.2]])
def test_linear_map_gives_log_of_its_largest_multiplier(mu):
    """On x -> A x with A = Q diag(mu) Qᵀ on the moving subspace (and 1.7 on the frozen one,
    which must not count), around its fixed point 0, λ converges to log max|mu|."""
    H = 1
    Q = _moving_basis(H, 0)
    m = np.resize(np.asarray(mu, float), Q.shape[1])
    m[len(mu):] = min(np.abs(mu)) * 0.5
    F = np.eye(n_params(H)) - Q @ Q.T
    A = Q @ np.diag(m) @ Q.T + 1.7 * F
    P = np.zeros((2, n_params(H), 64))  # the main networks sit at the fixed point 0
    lam, _ = L.benettin(_linear_advance(P, A), None, P, H, 400, every=10)
    np.testing.assert_allclose(lam[0], np.log(np.abs(mu).max()), atol=0.01)


def test_scalar_multiple_is_exact():
    """A = c·I: every separation grows by c per step, so λ = log c at every step count, to
    the resolution of a separation δ measured between numbers of order 1 (ulp/δ ≈ 1e-8)."""
    P = np.random.default_rng(2).standard_normal((2, n_params(2), 64))
    lam, traj = L.benettin(_linear_advance(P, 0.93 * np.eye(n_params(2))), lambda t: None, P, 2, 25, every=4,
                           record_every=5)
    np.testing.assert_allclose(lam[0], np.log(0.93), rtol=0, atol=1e-8)
    np.testing.assert_allclose(traj[0, 1:], np.log(0.93), rtol=0, atol=5e-8)  # from step 5 on


def _numpy_benettin(rule, x0, H, lr, steps, k, delta):
    """The slow oracle: book-style training of a network and its twin, k steps at a time,
    the separation projected with an explicit projector."""
    F = np.zeros((n_params(H), H + 1))
    for i, (a, b) in enumerate(L.frozen_pairs(H)):
        F[[a, b], i] = 2 ** -0.5
    proj = np.eye(n_params(H)) - F @ F.T

    def run(x, n):
        p = ref.start(**{g: v for g, v in split_groups(x, H).items()})
        p = ref.train_seed(p, lr, n) if rule == "seed" else ref.train_gd(p, lr, n)
        return join_groups(p["W1"], p["b1"], p["W2"], p["b2"])

    u = proj @ np.random.default_rng([L.DIRECTION_SEED, H]).standard_normal(n_params(H))
    u /= np.linalg.norm(u)
    x, y, total, done = x0.copy(), x0 + delta * u, 0.0, 0
    while done < steps:
        n = min(k, steps - done)
        d0 = np.linalg.norm(proj @ (y - x))
        x, y = run(x, n), run(y, n)
        sep = proj @ (y - x)
        total += np.log(np.linalg.norm(sep) / d0)
        y = x + delta * sep / np.linalg.norm(sep)
        done += n
    return total / steps


@pytest.mark.parametrize("rule,tol", [("gd", 1e-8), ("seed", 3e-3)])
def test_against_a_slow_numpy_benettin(rule, tol, exact_ops):
    """Same arithmetic as the kernels (exact exp/log, in-order dot): the gd exponents agree
    to rounding; the seed rule's agree to its roundoff kicks (κ/δ ≈ 3e-4 per pause)."""
    H, lr, steps = 2, 2.0, 36
    starts = random_starts(3, H=H, seed=7)
    r = kernels.train(*starts, rule=rule, lr=lr, steps=steps, lyapunov=True, lyapunov_every=8, arith="exact")
    x = join_groups(*starts)
    with ref.use_ops(*exact_ops):
        want = [_numpy_benettin(rule, x[i], H, lr, steps, 8, L.DELTA["float64"]) for i in range(3)]
    np.testing.assert_allclose(r.lyapunov, want, rtol=0, atol=tol)


@pytest.mark.parametrize("rule,steps,std,eps,tol", [("gd", 60, 0.3, 1e-7, 1e-5), ("seed", 20, 0.1, 1e-8, 2e-3)])
def test_against_finite_differences_of_the_finals(rule, steps, std, eps, tol):
    """In the linear regime Benettin's sum of logs is log |J u| (J the Jacobian of the
    finals with respect to the start, u the start direction): central differences of
    trained finals give it independently of the twin and its pauses. (The seed rule grows
    separations by up to e^10 in 20 steps: ε = 1e-8 stays linear and above its kicks.)"""
    H = 3
    starts = random_starts(6, H=H, std=std, seed=8, biases=False)
    r = kernels.train(*starts, rule=rule, steps=steps, lyapunov=True)
    x = join_groups(*starts)
    u = L.direction(H)

    def finals(z):
        t = kernels.train(*split_groups(z, H).values(), rule=rule, steps=steps)
        return join_groups(t.W1, t.b1, t.W2, t.b2)

    Ju = L.project((finals(x + eps * u) - finals(x - eps * u)) / (2 * eps), H)
    want = np.log(np.linalg.norm(Ju, axis=1)) / steps
    np.testing.assert_allclose(r.lyapunov, want, rtol=0, atol=tol)


def test_insensitive_to_delta_and_k_within_the_window_and_not_below_it():
    """Across δ = 1e-9 … 1e-5 and k = 5 … 20 the exponents of 128 random starts move by far
    less than their spread; at δ = 1e-11, near the seed rule's accumulated kicks
    (κ/(1 − e^-λ) ≈ 2e-11), the twin measures rounding, not the dynamics: λ is biased up."""
    starts = random_starts(128, std=0.1, seed=9, biases=False)
    lam = {(d, k): kernels.train(*starts, lyapunov=True, lyapunov_delta=d, lyapunov_every=k).lyapunov
           for d, k in ((1e-7, 10), (1e-9, 10), (1e-6, 10), (1e-5, 10), (1e-7, 5), (1e-7, 20), (1e-11, 10))}
    base = lam[(1e-7, 10)]
    spread = np.subtract(*np.percentile(base, [90, 10]))
    assert spread > 0.1
    for key, v in lam.items():
        if key[0] >= 1e-9:
            assert np.median(np.abs(v - base)) < 0.05 * spread, key
            assert np.percentile(np.abs(v - base), 90) < 0.15 * spread, key
    assert np.median(lam[(1e-11, 10)] - base) > 0.3 * spread


def test_a_converging_network_has_a_negative_exponent():
    """A solved network trained on by gd at a small rate sits in a contracting valley."""
    s = random_starts(4, seed=10)
    r = kernels.train(*s, rule="gd", lr=2.0, steps=2000)
    assert (r.accuracy == 1).all()
    again = kernels.train(r.W1, r.b1, r.W2, r.b2, rule="gd", lr=0.5, steps=200, lyapunov=True)
    assert (again.lyapunov < 0).all()
    zero = kernels.train(r.W1, r.b1, r.W2, r.b2, rule="gd", lr=0.0, steps=20, lyapunov=True)
    np.testing.assert_array_equal(zero.lyapunov, 0.0)


def test_bad_settings_are_refused():
    s = random_starts(2)
    with pytest.raises(ValueError, match="lyapunov_delta"):
        kernels.train(*s, lyapunov=True, lyapunov_delta=0.0)
    with pytest.raises(ValueError, match="lyapunov_every"):
        kernels.train(*s, lyapunov=True, lyapunov_every=0)
