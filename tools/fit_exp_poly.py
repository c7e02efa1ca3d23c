"""Fit the polynomials of the exact-fma2 exp (kernels/xmath.py, ``_C64`` and ``_FQ*``) and
print their coefficients as hex and their maximum relative error as exp.

exp(r) = 1 + r + r**2 * Q(r) on |r| <= ln2/2 (a hair more: k comes from one fma). Q is
fitted for the least maximum relative error of exp, r**2 * (Q(r) - Q*(r)) / e**r, by
Lawson's iteration (iteratively reweighted least squares over Chebyshev nodes, mpmath at
40 digits); the coefficients are then rounded to the target format and the error of the
rounded polynomial is measured on a fine grid.  python tools/fit_exp_poly.py (~15 s)"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40


def Q(r):
    if abs(r) < mp.mpf(10) ** -8:
        return mp.mpf(1) / 2 + r / 6 + r * r / 24 + r ** 3 / 120
    return (mp.exp(r) - 1 - r) / (r * r)


def lawson(a, deg, rnd, npts=400, iters=60):
    xs = [mp.cos(mp.pi * (i + 0.5) / npts) * a for i in range(npts)]
    wt = [r * r / mp.exp(r) for r in xs]
    f = [Q(r) for r in xs]
    w = [mp.mpf(1) / npts] * npts
    for _ in range(iters):
        A, b = mp.matrix(npts, deg + 1), mp.matrix(npts, 1)
        for i, r in enumerate(xs):
            s = mp.sqrt(w[i]) * wt[i]
            for j in range(deg + 1):
                A[i, j] = s * r ** j
            b[i] = s * f[i]
        c = mp.qr_solve(A, b)[0]
        err = [abs(wt[i] * (sum(c[j] * xs[i] ** j for j in range(deg + 1)) - f[i])) for i in range(npts)]
        tot = sum(w[i] * err[i] for i in range(npts))
        w = [w[i] * err[i] / tot for i in range(npts)]
    cs = [rnd(c[j]) for j in range(deg + 1)]
    worst = max(abs(1 + r + r * r * sum(mp.mpf(float(v)) * r ** j for j, v in enumerate(cs)) - mp.exp(r)) / mp.exp(r)
                for r in (-a + 2 * a * i / 4000 for i in range(4001)))
    return cs, worst


def main():
    cs, worst = lawson(mp.log(2) / 2 + mp.mpf(2) ** -30, 9, float)
    print(f"float64, degree 9: max relative error {float(worst):.3g} = {float(worst / mp.mpf(2) ** -53):.3f} * 2**-53")
    print(" ", [c.hex() for c in cs])
    cs, worst = lawson(mp.log(2) / 2 + mp.mpf(2) ** -14, 4, lambda v: float(np.float32(float(v))), npts=200, iters=40)
    print(f"float32, degree 4: max relative error {float(worst):.3g} = {float(worst / mp.mpf(2) ** -24):.3f} * 2**-24")
    print(" ", [float(c).hex() for c in cs])


if __name__ == "__main__":
    main()
