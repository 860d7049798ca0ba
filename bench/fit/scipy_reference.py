#!/usr/bin/python3
"""scipy reference for bench_fit: Chinchilla approach 3 as Epoch AI ran it.

Minimises sum_i Huber_delta(LSE(a - alpha log N, b - beta log D, e) - log L)
with scipy.optimize.minimize(method="L-BFGS-B"), no bounds, from every start
of the 4,500-point grid (or a --starts CSV), and prints one JSON line.

Usage: /usr/bin/python3 scipy_reference.py --data runs.csv --mode fd|analytic
           [--processes P] [--delta 1e-3] [--starts FILE]
"""
import os

# Each worker must stay single-threaded, or P workers times BLAS threads would
# oversubscribe the cores that the C++ side is compared on. Must precede numpy.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

PARAMS = ("a", "b", "e", "alpha", "beta")

# Set in main() before the pool forks, so workers inherit them for free.
LOG_N = LOG_D = LOG_L = None
FULL = None   # bootstrap: the full data, resampled per task
START = None  # bootstrap: the warm start
DELTA = 1e-3


def fail(msg):
    print("scipy_reference: " + msg, file=sys.stderr)
    sys.exit(2)


def read_csv(path, columns):
    """Return the named columns of a headed CSV as float arrays."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        fail("cannot read %s: %s" % (path, exc))
    if not rows:
        fail("%s has no data rows" % path)
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        fail("%s lacks column(s) %s" % (path, ", ".join(missing)))
    try:
        return [np.array([float(r[c]) for r in rows]) for c in columns]
    except (TypeError, ValueError) as exc:
        fail("%s: bad number: %s" % (path, exc))


def terms(x):
    a, b, e, alpha, beta = x
    t = np.stack([a - alpha * LOG_N, b - beta * LOG_D,
                  np.full_like(LOG_N, e)])
    # Subtracting the max keeps exp() finite for the large a, b of the grid.
    m = t.max(axis=0)
    z = np.exp(t - m)
    s = z.sum(axis=0)
    return m + np.log(s) - LOG_L, z / s


def huber_sum(r):
    ar = np.abs(r)
    return np.where(ar <= DELTA, 0.5 * r * r, DELTA * (ar - 0.5 * DELTA)).sum()


def objective(x):
    # Line searches from bad starts try huge steps; inf/nan there is expected
    # and L-BFGS-B backs off, so only those floating-point warnings are muted.
    with np.errstate(over="ignore", invalid="ignore"):
        r, _ = terms(x)
        return huber_sum(r)


def objective_and_grad(x):
    with np.errstate(over="ignore", invalid="ignore"):
        r, w = terms(x)
        # d LSE / d t_k is the softmax weight w_k;
        # Huber'(r) = clip(r, -delta, delta).
        h = np.clip(r, -DELTA, DELTA)
        hw = w * h
        grad = np.array([hw[0].sum(), hw[1].sum(), hw[2].sum(),
                         -(hw[0] * LOG_N).sum(), -(hw[1] * LOG_D).sum()])
        return huber_sum(r), grad


def fit_one(args):
    x0, analytic = args
    if analytic:
        # jac=True: one pass yields both value and gradient, as a tuned
        # analytic-gradient reference would do it.
        res = minimize(objective_and_grad, x0, method="L-BFGS-B", jac=True)
    else:
        res = minimize(objective, x0, method="L-BFGS-B", jac=None)
    return float(res.fun), res.x


def boot_one(idx):
    """BFGS with the analytic gradient on one resample, from START (BENCH.md:
    L-BFGS-B's default tolerances stop too early here)."""
    global LOG_N, LOG_D, LOG_L
    LOG_N, LOG_D, LOG_L = FULL[0][idx], FULL[1][idx], FULL[2][idx]
    res = minimize(objective_and_grad, START, method="BFGS", jac=True)
    return float(res.fun), res.x


def default_grid():
    ab = np.arange(0.0, 26.0, 5.0)
    e = np.arange(-1.0, 1.01, 0.5)
    ex = np.arange(0.0, 2.01, 0.5)
    return np.array(list(itertools.product(ab, ab, e, ex, ex)))


def main():
    global LOG_N, LOG_D, LOG_L, DELTA
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--mode", required=True,
                   choices=("fd", "analytic", "bootstrap"))
    p.add_argument("--resamples",
                   help="bootstrap: a file of comma-separated run indices, "
                        "one resample a line")
    p.add_argument("--start", help="bootstrap: a,b,e,alpha,beta")
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--delta", type=float, default=1e-3)
    p.add_argument("--starts")
    args = p.parse_args()
    if args.processes < 1:
        fail("--processes must be >= 1")

    n, d, loss = read_csv(args.data, ("N", "D", "loss"))
    if min(n.min(), d.min(), loss.min()) <= 0:
        fail("N, D and loss must all be positive")
    LOG_N, LOG_D, LOG_L = np.log(n), np.log(d), np.log(loss)
    DELTA = args.delta
    if args.mode == "bootstrap":
        return bootstrap(args)
    if args.starts:
        starts = np.column_stack(read_csv(args.starts, PARAMS))
    else:
        starts = default_grid()
    jobs = [(x0, args.mode == "analytic") for x0 in starts]

    t0 = time.perf_counter()
    if args.processes == 1:
        results = [fit_one(j) for j in jobs]
    else:
        ctx = multiprocessing.get_context("fork")
        # Small chunks balance the load: starts differ a lot in cost.
        chunk = max(1, len(jobs) // (args.processes * 16))
        with ctx.Pool(args.processes) as pool:
            results = pool.map(fit_one, jobs, chunksize=chunk)
    seconds = time.perf_counter() - t0

    funs = np.array([f for f, _ in results])
    if np.all(np.isnan(funs)):
        fail("every start ended with a non-finite objective")
    i = int(np.nanargmin(funs))  # first of equal minima, like a serial loop
    print(json.dumps({
        "mode": args.mode,
        "starts": len(jobs),
        "processes": args.processes,
        "seconds": seconds,
        "best_objective": funs[i],
        "best": dict(zip(PARAMS, map(float, results[i][1]))),
        "scipy_version": scipy.__version__,
    }))


def bootstrap(args):
    global FULL, START
    if not args.resamples or not args.start:
        fail("--mode bootstrap needs --resamples and --start")
    FULL = (LOG_N, LOG_D, LOG_L)
    START = np.array([float(v) for v in args.start.split(",")])
    try:
        with open(args.resamples) as f:
            draws = [np.array([int(i) for i in line.split(",")])
                     for line in f if line.strip()]
    except (OSError, ValueError) as exc:
        fail("cannot read resamples: %s" % exc)
    t0 = time.perf_counter()
    if args.processes == 1:
        results = [boot_one(idx) for idx in draws]
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(args.processes) as pool:
            results = pool.map(boot_one, draws, chunksize=4)
    seconds = time.perf_counter() - t0
    alphas = np.array([x[3] for _, x in results])
    print(json.dumps({
        "mode": "bootstrap",
        "resamples": len(draws),
        "processes": args.processes,
        "seconds": seconds,
        "alpha_p2_5": float(np.percentile(alphas, 2.5)),
        "alpha_p97_5": float(np.percentile(alphas, 97.5)),
        "scipy_version": scipy.__version__,
    }))


if __name__ == "__main__":
    main()
