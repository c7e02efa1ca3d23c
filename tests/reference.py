"""Slow, book-style numpy references of the training rules (each gradient with each update
order): the test oracles.

Written for clarity after "Deep Learning from Scratch" (TwoLayerNet, numerical_gradient,
the author's group-by-group update); one network at a time. By default they use numpy's
own exp, log and dot, as the author did; ``use_ops`` swaps in other elementary functions
(the project's exact exp/log, a dot that sums in order) to compare bit for bit.
"""
import contextlib

import numpy as np

X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64)
T = np.array([[1, 0], [0, 1], [0, 1], [1, 0]], dtype=np.float64)  # one-hot of [0, 1, 1, 0]
np_exp, np_log, dot = np.exp, np.log, np.dot


def ordered_dot(a, b):
    """a @ b summed left to right over the inner index, without fused multiply-add."""
    out = a[..., :, 0, None] * b[0]
    for j in range(1, a.shape[-1]):
        out = out + a[..., :, j, None] * b[j]
    return out


@contextlib.contextmanager
def use_ops(exp, log, dot_):
    global np_exp, np_log, dot
    saved = np_exp, np_log, dot
    np_exp, np_log, dot = exp, log, dot_
    try:
        yield
    finally:
        np_exp, np_log, dot = saved

GROUPS = ("W1", "b1", "W2", "b2")


def sigmoid(x):
    return 1 / (1 + np_exp(-x))


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    return np_exp(x) / np.sum(np_exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    labels = t.argmax(axis=1)
    return -np.sum(np_log(y[np.arange(len(y)), labels] + 1e-7)) / len(y)


def forward(p):
    a1 = dot(X.astype(p["W1"].dtype), p["W1"]) + p["b1"]
    z1 = sigmoid(a1)
    y = softmax(dot(z1, p["W2"]) + p["b2"])
    return z1, y


def loss(p):
    return cross_entropy_error(forward(p)[1], T.astype(p["W1"].dtype))


def numerical_gradient(f, x, h=1e-4):
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        idx = it.multi_index
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f()
        x[idx] = tmp_val - h
        fxh2 = f()
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
        it.iternext()
    return grad


def analytic_gradient(p):
    z1, y = forward(p)
    dy = (y - T.astype(y.dtype)) / 4
    da1 = dot(dy, p["W2"].T)
    dz1 = (1 - z1) * z1 * da1
    return {
        "W1": dot(X.T.astype(y.dtype), dz1),
        "b1": np.sum(dz1, axis=0),
        "W2": dot(z1.T, dy),
        "b2": np.sum(dy, axis=0),
    }


def start(W1, W2, b1=None, b2=None, dtype=np.float64):
    W1 = np.array(W1, dtype=dtype)
    W2 = np.array(W2, dtype=dtype)
    H = W1.shape[1]
    return {
        "W1": W1,
        "b1": np.zeros(H, dtype) if b1 is None else np.array(b1, dtype=dtype),
        "W2": W2,
        "b2": np.zeros(2, dtype) if b2 is None else np.array(b2, dtype=dtype),
    }


def group_gradient(p, key, gradient, h=1e-4):
    """The gradient of group ``key`` at the parameters p: the book's numerical gradient
    (perturbing p[key] in place and restoring it) or the analytic one."""
    if gradient == "numerical":
        return numerical_gradient(lambda: loss(p), p[key], h)
    return analytic_gradient(p)[key]


def step(p, gradient, update, lr, h=1e-4):
    """One training step in place; returns the gradients used. ``sequential``: the author's
    order, each group's gradient taken after the previous groups moved; ``simultaneous``:
    every gradient at the same parameters, then all groups move."""
    grads = {}
    for key in GROUPS:
        grads[key] = group_gradient(p, key, gradient, h)
        if update == "sequential":
            p[key] -= lr * grads[key]
    if update == "simultaneous":
        for key in GROUPS:
            p[key] -= lr * grads[key]
    return grads


def train(p, gradient, update, lr=5.0, steps=100, h=1e-4):
    p = {k: v.copy() for k, v in p.items()}
    for _ in range(steps):
        step(p, gradient, update, lr, h)
    return p


def train_seed(p, lr=5.0, steps=100, h=1e-4):
    """The author's rule: numerical gradient, the four groups updated one after another."""
    return train(p, "numerical", "sequential", lr, steps, h)


def train_gd(p, lr, steps):
    """Textbook full-batch gradient descent, all groups updated together."""
    return train(p, "analytic", "simultaneous", lr, steps)


def outcome(p):
    z1, y = forward(p)
    predicted = y.argmax(axis=1)
    return {
        "z1": z1,
        "y": y,
        "predicted": predicted,
        "accuracy": float(np.mean(predicted == T.argmax(axis=1))),
        "loss": float(loss(p)),
    }


def _state(p):
    """The coarse state: the four decisions and the hidden code (activations > 0.5)."""
    z1, y = forward(p)
    return tuple(y.argmax(axis=1)), tuple((z1 > 0.5).ravel())


RULES = {"seed": ("numerical", "sequential"), "gd": ("analytic", "simultaneous")}


def train_tracked(p, rule, lr, steps, h=1e-4):
    """Train with ``rule`` ("seed", "gd" or a (gradient, update) pair) one step at a time and report, beside the final
    parameters, the oracle of the kernels' outcome tracking: solved_step (first step from
    which the decisions are [0, 1, 1, 0] up to and including the final parameters, -1 if
    the final ones are not), settled_step (last step whose state differs from the step
    before, 0 if none) and grad_norm (norm of the gradient used in the last update)."""
    p = {k: v.copy() for k, v in p.items()}
    states, grads = [_state(p)], None
    gradient, update = RULES.get(rule, rule)
    for _ in range(steps):
        grads = step(p, gradient, update, lr, h)
        states.append(_state(p))
    solved = [s[0] == (0, 1, 1, 0) for s in states]
    solved_step = -1
    if solved[-1]:
        solved_step = steps
        while solved_step > 0 and solved[solved_step - 1]:
            solved_step -= 1
    settled_step = max([s for s in range(1, steps + 1) if states[s] != states[s - 1]], default=0)
    grad_norm = np.nan if grads is None else float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2)
                                                               for g in grads.values())))
    return p, {"solved_step": solved_step, "settled_step": settled_step, "grad_norm": grad_norm}
