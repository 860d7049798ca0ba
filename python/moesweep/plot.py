"""Plots of a campaign, or of a law file, in four panels.

(a) observations: each run's final loss against its training tokens with the
    fitted law through them, one series per model (the run's features but
    tokens: total parameters, and experts or granularity where they vary);
(b) isoFLOP profiles: the law's loss along model size at fixed budgets, with
    the compute optimum and its 95% interval on the loss;
(c) the answer's 95% interval width, (upper - lower)/answer, against the
    FLOPs spent, with the campaign's target width;
(d) the out-of-sample error series, log(predicted/observed) of each run under
    the law before that run joined it.

For a campaign every number comes from the coordinator: trials (ListTrials),
the law and its out-of-sample errors (GetLaw), the law at each model and along
each profile (Predict, so any family the coordinator fits), the optimum and
its interval (Optimal: the interval of the predicted loss at the optimum), and
the answer's history from the stored events (Watch from the first event). For
a law file (`moesweep fit --out`) with an optional CSV of runs, only (a) and
(b) exist, computed in Python for the chinchilla family (moesweep.law: the
optimum's interval by the delta method over the re-solved optimum, as
`moesweep optimal --law-file` gives it).

Why matplotlib: it is packaged by Debian 12 (python3-matplotlib), so it
installs with the rest of moesweep from Debian alone; it is what researchers
already use and restyle; and one drawing code path writes both SVG (for
papers and for tests, which read it as XML) and PNG (Agg). pyplot is never
imported, so a caller's interactive backend and global figure state are left
alone; figures are built on matplotlib.figure.Figure and rendered by Agg.

Every drawn series carries a gid, the id of its <g> element in SVG, so a test
or a script finds it by name:
  panel-observations, panel-isoflop, panel-width, panel-out-of-sample (axes);
  observed-<model>, law-<model>, validation (a), <model> from series_name();
  isoflop-<C>, optimum-<C>, optimum-interval-<C> (b), <C> from flops_name();
  answer-width, target-width (c); out-of-sample (d).
An observed series has one marker (<use>) per run; a law line `points` points,
a profile `points` points, an interval two.
"""

import math

from .errors import Error
from .plot_data import (DEFAULT_POINTS, PlotData, Profile, Series,
                        campaign_data, flops_name, law_file_data, read_runs,
                        series_name)

__all__ = ["DEFAULT_POINTS", "PlotData", "Profile", "Series", "campaign_data",
           "draw", "flops_name", "law_file_data", "plot_campaign",
           "plot_law_file", "read_runs", "series_name"]


# ---- Drawing ----

def _color(i):
    import matplotlib
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    return cycle[i % len(cycle)]


def _line(ax, xy, gid, **style):
    xs, ys = zip(*xy) if xy else ((), ())
    (line,) = ax.plot(xs, ys, **style)
    line.set_gid(gid)
    return line


def _plain_log_ticks(axis):
    """Loss ticks as 2.5, not 2.5x10^0, on a log axis of a narrow range."""
    from matplotlib.ticker import FuncFormatter
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(plain)
    axis.set_minor_formatter(plain)


def _observations(ax, data):
    ax.set_gid("panel-observations")
    for i, s in enumerate(data.series):
        color = _color(i)
        if s.law:
            _line(ax, s.law, "law-" + s.name, color=color, linewidth=1)
        _line(ax, s.observed, "observed-" + s.name, color=color,
              linestyle="none", marker="o", markersize=4, label=s.label)
    if data.validation:
        _line(ax, data.validation, "validation", color="black",
              linestyle="none", marker="x", markersize=6, label="validation")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training tokens D")
    _plain_log_ticks(ax.yaxis)
    ax.set_ylabel("final eval loss (nats/token)")
    ax.set_title("(a) runs and the fitted law")
    if data.series:
        ax.legend(fontsize="x-small", ncol=2)


def _isoflop_limits(ax, profiles):
    """Loss limits that show every profile, and the optimum's intervals up
    to twice the profiles' range: an unidentified law's interval can span
    decades and would flatten the profiles (it is clipped, not dropped)."""
    losses = [y for p in profiles for _, y in p.profile + [p.best]
              if math.isfinite(y) and y > 0]
    if not losses:
        return
    lo, hi = min(losses), max(losses)
    ends = [e for p in profiles if p.interval for e in p.interval
            if math.isfinite(e) and e > 0]
    lo = max(min([lo] + ends), lo / 2)
    hi = min(max([hi] + ends), hi * 2)
    ax.set_ylim(lo / 1.05, hi * 1.05)


def _isoflop(ax, data):
    ax.set_gid("panel-isoflop")
    for i, p in enumerate(data.profiles):
        color = _color(i)
        name = flops_name(p.flops)
        _line(ax, p.profile, "isoflop-" + name, color=color, linewidth=1,
              label=f"C={p.flops:.2g}")
        _line(ax, [p.best], "optimum-" + name, color=color, linestyle="none",
              marker="D", markersize=5)
        if p.interval:
            _line(ax, [(p.best[0], p.interval[0]), (p.best[0], p.interval[1])],
                  "optimum-interval-" + name, color=color, linewidth=2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _isoflop_limits(ax, data.profiles)
    ax.set_xlabel("parameters N")
    _plain_log_ticks(ax.yaxis)
    ax.set_ylabel("predicted loss")
    ax.set_title("(b) isoFLOP profiles, optimum with 95% interval")
    if data.profiles:
        ax.legend(fontsize="x-small")
    else:
        ax.text(0.5, 0.5, "no identifiable law yet", ha="center",
                transform=ax.transAxes)


def _width(ax, data):
    ax.set_gid("panel-width")
    if data.width:
        _line(ax, data.width, "answer-width", marker="o", markersize=3,
              linewidth=1, label="answer's 95% interval width")
        ax.set_xscale("log")
    if data.target_width and data.width:
        xs = [data.width[0][0], data.width[-1][0]]
        _line(ax, [(xs[0], data.target_width), (xs[1], data.target_width)],
              "target-width", color="gray", linestyle="--", label="target")
    if data.width:
        ax.set_yscale("log")
        ax.legend(fontsize="x-small")
    ax.set_xlabel("training FLOPs spent")
    ax.set_ylabel("(upper - lower) / answer")
    ax.set_title("(c) the answer's interval against FLOPs")


def _out_of_sample(ax, data):
    ax.set_gid("panel-out-of-sample")
    if data.out_of_sample:
        _line(ax, data.out_of_sample, "out-of-sample", linestyle="none",
              marker="o", markersize=3)
        ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_xlabel("observation (arrival order)")
    ax.set_ylabel("log(predicted / observed)")
    ax.set_title("(d) out-of-sample error")


def draw(data, out, width_px=1200, height_px=900, dpi=100):
    """Writes `data` to `out`, SVG or PNG by its extension, width_px by
    height_px pixels (the PNG's exact size; the SVG's at `dpi`).
    INVALID_ARGUMENT for another extension or a non-positive size."""
    import matplotlib
    from matplotlib.figure import Figure

    kind = out.rsplit(".", 1)[-1].lower() if "." in out else ""
    if kind not in ("svg", "png"):
        raise Error("INVALID_ARGUMENT",
                    f"--out: FILE.svg or FILE.png, got '{out}'")
    if width_px <= 0 or height_px <= 0 or dpi <= 0:
        raise Error("INVALID_ARGUMENT", "width, height and dpi must be > 0")
    # Fixed SVG ids and no path simplification: the same data gives the same
    # file, and a line keeps one vertex per point (tests count them).
    with matplotlib.rc_context({"svg.hashsalt": "moesweep",
                                "path.simplify": False,
                                "svg.fonttype": "none"}):
        fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
        panels = [_observations, _isoflop]
        if data.campaign:
            panels += [_width, _out_of_sample]
        rows = 2 if len(panels) > 2 else 1
        axes = fig.subplots(rows, 2, squeeze=False).flat
        for panel, ax in zip(panels, axes):
            panel(ax, data)
        fig.suptitle(data.title)
        fig.tight_layout()
        fig.savefig(out, format=kind, dpi=dpi)
    return out


def plot_campaign(client, campaign_id, out, flops=None,
                  points=DEFAULT_POINTS, **size):
    """Draws a campaign's four panels to `out` (.svg or .png)."""
    return draw(campaign_data(client, campaign_id, flops, points), out, **size)


def plot_law_file(law_file, out, data=None, flops=None,
                  points=DEFAULT_POINTS, **size):
    """Draws a law file's panels (a) and (b) to `out` (.svg or .png)."""
    return draw(law_file_data(law_file, data, flops, points), out, **size)
