"""What moesweep.plot draws, gathered from a coordinator or a law file.

PlotData holds the four panels' series (see moesweep.plot for what each panel
shows and the gid of each series).
"""

import csv
import math
from dataclasses import dataclass, field

from . import law as lawlib
from .errors import Error

DEFAULT_POINTS = 40
PROFILE_SPAN = 30.0  # a profile spans the optimum's size / 30 to x 30


def series_name(params, num_experts=1.0, granularity=1.0, active_params=None):
    """The <model> part of a series' gid: 'N<total params>', then '-A<active
    params>', '-E<experts>', '-G<granularity>' where they are not the dense
    defaults."""
    name = f"N{round(params)}"
    if active_params is not None and round(active_params) != round(params):
        name += f"-A{round(active_params)}"
    if num_experts not in (0, 1):
        name += f"-E{num_experts:g}"
    if granularity not in (0, 1):
        name += f"-G{granularity:g}"
    return name


def flops_name(flops):
    """The <C> part of an isoFLOP gid: the budget as '1.00e+13'."""
    return f"{flops:.2e}"


def _geomspace(lo, hi, n):
    if n == 1:
        return [lo]
    a, b = math.log(lo), math.log(hi)
    return [math.exp(a + (b - a) * i / (n - 1)) for i in range(n)]


@dataclass
class Series:
    """One model of panel (a): observed (tokens, loss) and the law's line."""
    name: str
    label: str
    observed: list = field(default_factory=list)
    law: list = field(default_factory=list)


@dataclass
class Profile:
    """One budget of panel (b): the profile (params, loss), the optimum
    (params, loss) and its loss interval (lower, upper) or None."""
    flops: float
    profile: list
    best: tuple
    interval: tuple = None


@dataclass
class PlotData:
    """Everything the four panels draw; panels without data are left out."""
    title: str
    series: list = field(default_factory=list)
    validation: list = field(default_factory=list)  # (tokens, loss)
    profiles: list = field(default_factory=list)
    width: list = field(default_factory=list)  # (FLOPs spent, width)
    target_width: float = None
    out_of_sample: list = field(default_factory=list)  # (index, log error)
    campaign: bool = True


# ---- A campaign, from the coordinator ----

def _model_key(features):
    return tuple(sorted((k, v) for k, v in features.items() if k != "tokens"))


def _total(features):
    return features["n_total_ne"] + features["n_embed"]


def _active(features):
    return features["n_active_ne"] + features["n_embed"]


def _law_lines(client, campaign_id, models, tokens, points):
    """Predicted loss of each model over `points` token counts spanning the
    runs (one Predict call); None when the law cannot predict yet."""
    grid = _geomspace(min(tokens) / 1.5, max(tokens) * 1.5, points)
    runs = [dict(features, tokens=t) for features in models for t in grid]
    try:
        p = client.predict_many(campaign_id, runs)
    except Error as e:
        if e.code == "FAILED_PRECONDITION":
            return None
        raise
    losses = [x["loss"] for x in p]
    return [list(zip(grid, losses[i * points:(i + 1) * points]))
            for i in range(len(models))]


def _profile(client, campaign_id, flops, points):
    """The isoFLOP profile at `flops` around the coordinator's optimum: its
    features with every size scaled, tokens set so the run costs `flops`
    under the law's cost model (Predict's training_flops, linear in
    tokens)."""
    opt = client.optimal(campaign_id, flops)
    pred = opt["prediction"]
    features = {k: v for k, v in pred["features"].items()}
    best_params = _total(features)
    sizes = ("n_total_ne", "n_active_ne", "n_embed")
    scales = _geomspace(1 / PROFILE_SPAN, PROFILE_SPAN, points)
    shapes = [dict(features, **{k: features[k] * m for k in sizes}, tokens=1.0)
              for m in scales]
    per_token = [p["training_flops"] for p in
                 client.predict_many(campaign_id, shapes)]
    runs = [dict(s, tokens=flops / f) for s, f in zip(shapes, per_token)
            if f > 0 and flops / f >= 1]
    losses = client.predict_many(campaign_id, runs) if runs else []
    profile = [(_total(r), p["loss"]) for r, p in zip(runs, losses)]
    ci = pred["confidence_interval"]
    return Profile(flops, profile, (best_params, pred["loss"]),
                   (ci["lower"], ci["upper"]) if ci else None)


def _budgets(largest_run_flops, question_flops):
    top = max(question_flops or 0, largest_run_flops * 10)
    return _geomspace(largest_run_flops, top, 4)


def campaign_data(client, campaign_id, flops=None, points=DEFAULT_POINTS):
    """PlotData of a campaign, read through `client` (moesweep.Client).
    `flops`: the isoFLOP budgets; default four from the largest run's FLOPs
    to the question's budget (at least 10x)."""
    campaign = client.campaign(campaign_id)
    trials = client.trials(campaign_id, as_frame=False)
    data = PlotData(title=f"{campaign_id} {campaign['name']} "
                    f"({campaign['family']})".strip(),
                    target_width=campaign["target_interval_width"])
    done = [t for t in trials if t["state"] == "TRIAL_STATE_SUCCEEDED"
            and t["final_eval_loss"] is not None]
    fitted = [t for t in done if t["validation"] is None]
    data.validation = [(t["features"]["tokens"], t["final_eval_loss"])
                       for t in done if t["validation"] is not None]
    models = {}
    for t in fitted:
        models.setdefault(_model_key(t["features"]), []).append(t)
    keys = sorted(models, key=lambda k: (_total(dict(k)), k))
    for k in keys:
        f = dict(k)
        name = series_name(_total(f), f["num_experts"], f["granularity"],
                           _active(f))
        label = f"N={_total(f):.3g}"
        if f["num_experts"] not in (0, 1):
            label += f", E={f['num_experts']:g}"
        data.series.append(Series(name, label, sorted(
            (t["features"]["tokens"], t["final_eval_loss"])
            for t in models[k])))
    if fitted:
        lines = _law_lines(client, campaign_id, [dict(k) for k in keys],
                           [t["features"]["tokens"] for t in fitted], points)
        for s, line in zip(data.series, lines or []):
            s.law = line
    try:
        law = client.law(campaign_id)
    except Error as e:
        if e.code != "FAILED_PRECONDITION":
            raise
        law = None
    if law is not None:
        data.out_of_sample = [(i + 1, e["log_error"])
                              for i, e in enumerate(law["out_of_sample"])]
        if law["law"]["covariance"]:
            answer = campaign["answer"] or {}
            budgets = flops or _budgets(
                max(t["training_flops"] for t in fitted),
                answer.get("budget_flops", 0))
            for c in budgets:
                try:
                    data.profiles.append(_profile(client, campaign_id, c,
                                                  points))
                except Error as e:  # e.g. no model meets the caps there
                    if e.code not in ("INVALID_ARGUMENT",
                                      "FAILED_PRECONDITION"):
                        raise
    data.width = _width_history(client.events(campaign_id))
    return data


def _width_history(events):
    """(FLOPs spent, relative width) at each answer the campaign published:
    FLOPs of the finished attempts before it, validation runs excluded."""
    validation = {e["validated"]["trial_id"] for e in events
                  if e["kind"] == "validated"}
    spent, out = 0.0, []
    for e in events:
        if e["kind"] == "trial_finished":
            if e["trial_finished"]["trial_id"] not in validation:
                spent += e["trial_finished"]["training_flops"]
        elif e["kind"] == "answer_updated":
            a = e["answer_updated"]["answer"]
            i = a["interval"]
            if i and a["value"] and spent > 0:
                w = (i["upper"] - i["lower"]) / abs(a["value"])
                if math.isfinite(w) and w > 0:
                    out.append((spent, w))
    return out


# ---- A law file, with a CSV of runs ----

_COLUMNS = {"params": ("params", "N"), "tokens": ("tokens", "D"),
            "loss": ("loss",)}


def read_runs(path):
    """[(params, tokens, loss)] from a CSV with a header naming N or params,
    D or tokens, and loss (`moesweep fit --data`'s columns)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        raise Error("NOT_FOUND", f"{path}: cannot open file") from None
    if not rows:
        raise Error("INVALID_ARGUMENT", f"{path}: no runs")
    header = rows[0].keys()
    cols = {}
    for key, names in _COLUMNS.items():
        found = [n for n in names if n in header]
        if not found:
            raise Error("INVALID_ARGUMENT",
                        f"{path}: no column {' or '.join(names)}")
        cols[key] = found[0]
    out = []
    for line, r in enumerate(rows, start=2):
        try:
            out.append(tuple(float(r[cols[k]]) for k in _COLUMNS))
        except (TypeError, ValueError):
            raise Error("INVALID_ARGUMENT",
                        f"{path}:{line}: not a number") from None
    return out


def law_file_data(law_file, data=None, flops=None, points=DEFAULT_POINTS):
    """PlotData of a law file (chinchilla) and, optionally, the CSV of runs
    it was fitted on. `flops`: the isoFLOP budgets; default the largest
    run's 6·N·D times 1, 10, 100 and 1000 (without runs, required)."""
    law = lawlib.read_law_file(law_file)
    out = PlotData(title=f"{law_file} ({law['family']})", campaign=False)
    runs = read_runs(data) if data else []
    by_size = {}
    for n, d, loss in runs:
        by_size.setdefault(n, []).append((d, loss))
    if runs:
        grid = _geomspace(min(r[1] for r in runs) / 1.5,
                          max(r[1] for r in runs) * 1.5, points)
    for n in sorted(by_size):
        out.series.append(Series(
            series_name(n), f"N={n:.3g}", sorted(by_size[n]),
            [(d, lawlib.loss(law, n, d)) for d in grid]))
    if flops is None:
        if not runs:
            raise Error("INVALID_ARGUMENT",
                        "give --flops (or --data, to start from its runs)")
        top = max(6 * n * d for n, d, _ in runs)
        flops = [top * 10 ** k for k in range(4)]
    for c in flops:
        opt = lawlib.optimal(law, c)
        best = opt["best"]
        profile = [(n, lawlib.loss(law, n, c / (6 * n))) for n in _geomspace(
            best["params"] / PROFILE_SPAN, best["params"] * PROFILE_SPAN,
            points)]
        out.profiles.append(Profile(
            c, profile, (best["params"], best["loss"]),
            tuple(opt["loss_interval"]) if opt["loss_interval"] else None))
    return out
