"""The ``xorsweep`` command line."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from sweep import blog
from sweep.errors import UserError

TRAIN_EPILOG = """example (the blog's published start, rounded to 7 decimals, the author's rule):
  xorsweep train --published --decimals 7
  xorsweep train --W1 '[[-0.0042,-0.0433,0.1214],[-0.0095,0.0199,0.0259]]' \\
                 --W2 '[[0.0821,-0.0486],[-0.1715,-0.3033],[-0.0039,-0.054]]' --rule gd --steps 2000 --json
"""


def _array_arg(name, text, ndim):
    try:
        a = np.array(json.loads(text), dtype=np.float64)
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise UserError(f"--{name}: not a JSON array of numbers ({e})") from None
    if a.ndim != ndim:
        raise UserError(f"--{name}: expected a {ndim}-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise UserError(f"--{name}: contains NaN or infinity")
    return a


def _start_from_args(args):
    if args.published == (args.W1 is not None):
        raise UserError("give either --published or --W1 and --W2")
    if args.published:
        W1, W2 = np.array(blog.W1), np.array(blog.W2)
    else:
        if args.W2 is None:
            raise UserError("--W2 is required with --W1")
        W1, W2 = _array_arg("W1", args.W1, 2), _array_arg("W2", args.W2, 2)
    H = W1.shape[1] if W1.ndim == 2 else 0
    if W1.shape[0] != 2 or H < 1:
        raise UserError(f"--W1 must be shaped (2, H) with H >= 1, got {W1.shape}")
    if W2.shape != (H, 2):
        raise UserError(f"--W2 must be shaped ({H}, 2) to match --W1, got {W2.shape}")
    b1 = np.zeros(H) if args.b1 is None else _array_arg("b1", args.b1, 1)
    b2 = np.zeros(2) if args.b2 is None else _array_arg("b2", args.b2, 1)
    if b1.shape != (H,):
        raise UserError(f"--b1 must have {H} entries, got shape {b1.shape}")
    if b2.shape != (2,):
        raise UserError(f"--b2 must have 2 entries, got shape {b2.shape}")
    if args.init_scale is not None:
        if not np.isfinite(args.init_scale):
            raise UserError("--init-scale must be finite")
        W1, W2, b1, b2 = (args.init_scale * a for a in (W1, W2, b1, b2))
    if args.decimals is not None:
        W1, W2 = np.round(W1, args.decimals), np.round(W2, args.decimals)
    return W1, b1, W2, b2


def _cmd_train(args):
    import kernels

    W1, b1, W2, b2 = _start_from_args(args)
    r = kernels.train(W1[None], b1[None], W2[None], b2[None], rule=args.rule, lr=args.lr,
                      steps=args.steps, dtype=args.dtype, arith=args.arith)
    out = {
        "W1": r.W1[0], "b1": r.b1[0], "W2": r.W2[0], "b2": r.b2[0], "z1": r.z1[0], "y": r.y[0],
        "predicted": r.predicted[0], "accuracy": float(r.accuracy[0]), "loss": float(r.loss[0]),
        "diverged": bool(r.diverged[0]),
    }
    if args.json:
        print(json.dumps({k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in out.items()}))
        return 0
    with np.printoptions(precision=8, suppress=False, floatmode="maxprec"):
        for key, title in (("W1", "W1"), ("b1", "b1"), ("W2", "W2"), ("b2", "b2"),
                           ("z1", "Z1 = sigmoid(x @ W1 + b1)"), ("y", "y = softmax(Z1 @ W2 + b2)")):
            print(f"{title}\n{out[key]}")
    print(f"argmax {out['predicted']}")
    print(f"accuracy {out['accuracy']:.2f}  loss {out['loss']:.8g}" + ("  DIVERGED" if out["diverged"] else ""))
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="xorsweep", description="Map where XOR-network training lands from each start.")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    t = sub.add_parser("train", help="train one network from a literal start and print the result",
                       description="Train one 2-H-2 XOR network from a literal start and print its finals, "
                                   "hidden activations Z1, softmax outputs, argmax, accuracy and loss.",
                       epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--W1", help="JSON array, shape (2, H)")
    t.add_argument("--W2", help="JSON array, shape (H, 2)")
    t.add_argument("--b1", help="JSON array, shape (H,) (default zeros)")
    t.add_argument("--b2", help="JSON array, shape (2,) (default zeros)")
    t.add_argument("--published", action="store_true", help="start from the blog author's published W1, W2")
    t.add_argument("--init-scale", type=float, metavar="S", help="multiply the start by S (before --decimals)")
    t.add_argument("--decimals", type=int, metavar="N", help="np.round W1 and W2 to N decimals first")
    t.add_argument("--rule", choices=["seed", "gd"], default="seed", help="training rule (default: seed)")
    t.add_argument("--lr", type=float, help="learning rate (default 5.0)")
    t.add_argument("--steps", type=int, help="iterations (default 100)")
    t.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    t.add_argument("--arith", choices=["exact", "libm"], default="exact",
                   help="exp/log: the project's own, same bits everywhere (default), or the platform's")
    t.add_argument("--json", action="store_true", help="print one JSON object instead")
    t.set_defaults(func=_cmd_train)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (UserError, ValueError) as e:
        if args.debug:
            raise
        print(f"xorsweep {args.verb}: error: {e}", file=sys.stderr)
        return 2
