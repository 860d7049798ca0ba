"""A fitted law in Python: law files, predictions and the compute optimum.

The law file is the one `moesweep fit --out` writes and `moesweep predict` and
`moesweep optimal --law-file` read (format_version 1, cli/law_json.h). A
campaign's law (`Client.law(id)["law"]`) converts to the same form with
`from_estimate`, so `moesweep predict --law-file` can read a campaign's law.

Only the `chinchilla` family is evaluated here (fitter/chinchilla.cc; Hoffmann
et al. 2022, approach 3):

    L(N, D) = E + A/N^alpha + B/D^beta,   A = e^a, B = e^b, E = e^e,
    log L = LogSumExp(a - alpha log N, b - beta log D, e),

with θ = (a, b, e, alpha, beta) as the fitter stores it. Intervals follow
fitter/uncertainty.cc: the delta method on log L (so they stay positive), a
new run's widened by the residual scale. The optimum follows fitter/
optimal.cc: C = 6·N·D, a 41-point scan of log N over [1e4, max(C/6e3, 1e5)]
refined by golden section, its loss interval by central differences in θ.
For other families, ask the coordinator (`Client.predict`/`Client.optimal`).
"""

import json
import math
import statistics

from .errors import Error

# θ coordinates of each family this module evaluates, in the fitter's order.
THETA_NAMES = {"chinchilla": ("a", "b", "e", "alpha", "beta")}


def _check_family(law):
    if law["family"] not in THETA_NAMES:
        raise Error("UNIMPLEMENTED",
                    f"law family '{law['family']}': only "
                    f"{', '.join(THETA_NAMES)} is evaluated in Python; ask "
                    "the coordinator (Client.predict, Client.optimal)")


def read_law_file(path):
    """The law file at `path` as {"family", "theta" (list, θ order),
    "names", "covariance" (p×p list of rows, or None), "residual_sigma"}.

    Errors (Error): NOT_FOUND when unreadable; INVALID_ARGUMENT for text that
    is not a format_version 1 law file of a family evaluated here.
    """
    try:
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
    except OSError:
        raise Error("NOT_FOUND", f"{path}: cannot open file") from None
    except ValueError as e:
        raise Error("INVALID_ARGUMENT",
                    f"{path}: not a law file (not JSON: {e})") from None
    if not isinstance(j, dict) or j.get("format_version") != 1:
        raise Error("INVALID_ARGUMENT",
                    f"{path}: not a format_version 1 law file")
    family = j.get("law")
    names = THETA_NAMES.get(family)
    if names is None:
        raise Error("INVALID_ARGUMENT",
                    f"{path}: law family '{family}' is not evaluated in "
                    f"Python (only {', '.join(THETA_NAMES)})")
    theta = j.get("theta", {})
    try:
        values = [float(theta[n]) for n in names]
    except (KeyError, TypeError, ValueError):
        raise Error("INVALID_ARGUMENT",
                    f"{path}: theta needs {', '.join(names)}") from None
    cov = j.get("covariance")
    if cov is not None and (len(cov) != len(names) or
                            any(len(r) != len(names) for r in cov)):
        raise Error("INVALID_ARGUMENT",
                    f"{path}: covariance must be {len(names)}x{len(names)}")
    return {"family": family, "names": list(names), "theta": values,
            "covariance": cov,
            "residual_sigma": float(j.get("residual_sigma", 0.0))}


def from_estimate(estimate, residual_sigma=0.0):
    """A LawEstimate dict (`Client.law(id)["law"]`) in read_law_file's form.

    The coordinator does not send its residual scale, so a new run's interval
    uses `residual_sigma` (default 0: the mean's interval).
    """
    names = [p["name"] for p in estimate["parameters"]]
    p = len(names)
    flat = list(estimate["covariance"])
    cov = [flat[i * p:(i + 1) * p] for i in range(p)] if flat else None
    return {"family": estimate["family"], "names": names,
            "theta": [p_["value"] for p_ in estimate["parameters"]],
            "covariance": cov, "residual_sigma": float(residual_sigma)}


def write_law_file(law, path, huber_delta=1e-3):
    """Writes `law` as a format_version 1 law file `moesweep predict` and
    `moesweep optimal --law-file` read."""
    j = {"format_version": 1, "law": law["family"],
         "theta": dict(zip(law["names"], law["theta"])),
         "huber_delta": huber_delta}
    if law.get("covariance"):
        j["covariance"] = law["covariance"]
        j["residual_sigma"] = law.get("residual_sigma", 0.0)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, indent=2)
        f.write("\n")


def two_sided_z(level):
    """z with P(|Z| <= z) = level for a standard normal Z."""
    if not 0 < level < 1:
        raise Error("INVALID_ARGUMENT", "level must be in (0, 1)")
    return statistics.NormalDist().inv_cdf(0.5 + level / 2)


def _terms(theta, params, tokens):
    a, b, e, alpha, beta = theta
    return (a - alpha * math.log(params), b - beta * math.log(tokens), e)


def log_loss(law, params, tokens, theta=None):
    """log L at N = params, D = tokens (θ from the law unless given)."""
    _check_family(law)
    t = _terms(theta if theta is not None else law["theta"], params, tokens)
    m = max(t)
    return m + math.log(sum(math.exp(x - m) for x in t))


def loss(law, params, tokens):
    """The predicted loss at N = params, D = tokens."""
    return math.exp(log_loss(law, params, tokens))


def _log_gradient(law, params, tokens):
    t = _terms(law["theta"], params, tokens)
    m = max(t)
    w = [math.exp(x - m) for x in t]
    s = sum(w)
    w = [x / s for x in w]
    return [w[0], w[1], w[2], -w[0] * math.log(params),
            -w[1] * math.log(tokens)]


def _quadratic(g, cov):
    return sum(g[i] * cov[i][j] * g[j]
               for i in range(len(g)) for j in range(len(g)))


def predict(law, params, tokens, level=0.95):
    """{"loss", "interval", "run_interval"} at N = params, D = tokens; the
    intervals ([lower, upper], the mean's and a new run's) only with a
    covariance, else None."""
    value = log_loss(law, params, tokens)
    out = {"loss": math.exp(value), "interval": None, "run_interval": None}
    if law.get("covariance"):
        var = _quadratic(_log_gradient(law, params, tokens), law["covariance"])
        z = two_sided_z(level)
        for key, v in (("interval", var),
                       ("run_interval", var + law["residual_sigma"] ** 2)):
            half = z * math.sqrt(v)
            out[key] = [math.exp(value - half), math.exp(value + half)]
    return out


def _solve(law, flops, theta, points):
    """(best point, profile) as fitter::SolveOptimal for C = 6·N·D."""
    def at(log_n):
        n = math.exp(log_n)
        d = flops / (6 * n)
        value = math.inf
        if d >= 1:
            value = math.exp(log_loss(law, n, d, theta))
            if not math.isfinite(value):
                value = math.inf
        return {"loss": value, "params": n, "tokens": d}

    lo, hi = math.log(1e4), math.log(max(flops / 6 / 1e3, 1e5))
    xs = [lo + (hi - lo) * i / (points - 1) for i in range(points)]
    scan = [at(x) for x in xs]
    best = min(range(points), key=lambda i: (scan[i]["loss"], i))
    if not math.isfinite(scan[best]["loss"]):
        return scan[best], scan
    a, b = xs[max(best - 1, 0)], xs[min(best + 1, points - 1)]
    ratio = (math.sqrt(5.0) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    pc, pd = at(c), at(d)
    for _ in range(80):
        if not b - a > 1e-10:
            break
        if pc["loss"] <= pd["loss"]:
            b, d, pd = d, c, pc
            c = b - ratio * (b - a)
            pc = at(c)
        else:
            a, c, pc = c, d, pd
            d = a + ratio * (b - a)
            pd = at(d)
    refined = pc if pc["loss"] <= pd["loss"] else pd
    return (refined if refined["loss"] < scan[best]["loss"] else scan[best],
            scan)


def optimal(law, flops, level=0.95, profile_points=41):
    """The compute-optimal model at `flops` (C = 6·N·D, no caps):
    {"flops", "best": {"loss", "params", "tokens"}, "loss_interval":
    [lower, upper] or None, "isoflop": [{"loss", "params", "tokens"}, ...]},
    as `moesweep optimal --law-file --json` gives them."""
    _check_family(law)
    if not (flops > 0 and math.isfinite(flops)):
        raise Error("INVALID_ARGUMENT", "flops must be a finite number > 0")
    best, profile = _solve(law, flops, law["theta"], profile_points)
    if not math.isfinite(best["loss"]):
        raise Error("FAILED_PRECONDITION", f"no model meets the caps at "
                    f"{flops} FLOPs")
    out = {"flops": flops, "best": best, "loss_interval": None,
           "isoflop": profile}
    cov = law.get("covariance")
    if cov:
        theta = law["theta"]
        g = []
        for i in range(len(theta)):
            h = max(1e-3 * math.sqrt(cov[i][i]), 1e-9)
            plus, minus = list(theta), list(theta)
            plus[i] += h
            minus[i] -= h
            q_plus = _solve(law, flops, plus, profile_points)[0]["loss"]
            q_minus = _solve(law, flops, minus, profile_points)[0]["loss"]
            g.append((q_plus - q_minus) / (2 * h))
        sd = math.sqrt(_quadratic(g, cov))
        half = two_sided_z(level) * sd / best["loss"]
        out["loss_interval"] = [best["loss"] * math.exp(-half),
                                best["loss"] * math.exp(half)]
    return out
