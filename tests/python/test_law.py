"""moesweep.law evaluates a chinchilla law file as `moesweep predict` and
`moesweep optimal --law-file` do, and `python3 -m moesweep plot --law-file`
draws it with its runs."""

import csv
import json
import unittest

import moesweep
from moesweep import law as lawlib
from moesweep import plot

from . import harness


def setUpModule():
    global FOLDER, RUNS, LAW
    FOLDER = harness.temp_dir(unittest.addModuleCleanup)
    RUNS, LAW = str(FOLDER / "runs.csv"), str(FOLDER / "law.json")
    b = harness.binary()
    harness.run([b, "synth", "--law", "chinchilla", "--preset", "epoch",
                 "--points", "5", "--seed", "3", "--out", RUNS])
    harness.run([b, "fit", "--law", "chinchilla", "--data", RUNS, "--threads",
                 "2", "--out", LAW])


class LawFileTest(unittest.TestCase):
    def test_predict_equals_the_cli(self):
        law = lawlib.read_law_file(LAW)
        for n, d in [(1e8, 2e9), (1e10, 2e11), (3e6, 1e12)]:
            cli = harness.cli_json(["predict", "--law-file", LAW, "--at",
                                    f"N={n!r},D={d!r}"])
            mine = lawlib.predict(law, n, d)
            self.assertAlmostEqual(mine["loss"], cli["loss"],
                                   delta=1e-12 * cli["loss"])
            for key in ("interval", "run_interval"):
                for a, b in zip(mine[key], cli[key]):
                    self.assertAlmostEqual(a, b, delta=1e-9 * b)

    def test_optimal_equals_the_cli(self):
        law = lawlib.read_law_file(LAW)
        for flops in (1e17, 1e21, 3e23):
            cli = harness.cli_json(["optimal", "--law-file", LAW, "--flops",
                                    repr(flops)])
            mine = lawlib.optimal(law, flops)
            for key in ("loss", "params", "tokens"):
                self.assertAlmostEqual(mine["best"][key], cli["best"][key],
                                       delta=1e-9 * cli["best"][key])
            for a, b in zip(mine["loss_interval"], cli["loss_interval"]):
                self.assertAlmostEqual(a, b, delta=1e-6 * b)
            self.assertEqual(len(mine["isoflop"]), len(cli["isoflop"]))
            for p, q in zip(mine["isoflop"], cli["isoflop"]):
                self.assertAlmostEqual(p["params"], q["params"],
                                       delta=1e-9 * q["params"])

    def test_other_families_are_refused_by_name(self):
        path = FOLDER / "joint.json"
        path.write_text(json.dumps({"format_version": 1, "law": "joint",
                                    "theta": {}, "huber_delta": 1e-3}))
        with self.assertRaises(moesweep.Error) as e:
            lawlib.read_law_file(str(path))
        self.assertEqual(e.exception.code, "INVALID_ARGUMENT")
        self.assertIn("joint", e.exception.message)


@harness.needs_matplotlib
class LawFilePlotTest(unittest.TestCase):
    def test_svg_holds_runs_laws_and_profiles(self):
        out = FOLDER / "law.svg"
        p = harness.python_module(["plot", "--law-file", LAW, "--data", RUNS,
                                   "--out", str(out), "--points", "30"])
        self.assertEqual(p.returncode, 0, p.stderr)
        series = harness.svg_series(out)
        with open(RUNS, newline="") as f:
            rows = list(csv.DictReader(f))
        sizes = {}
        for r in rows:
            name = plot.series_name(float(r["N"]))
            sizes[name] = sizes.get(name, 0) + 1
        self.assertEqual(len(sizes), 5)
        for name, count in sizes.items():
            self.assertEqual(series.get("observed-" + name), count, name)
            self.assertEqual(series.get("law-" + name), 30, name)
        top = max(6 * float(r["N"]) * float(r["D"]) for r in rows)
        for k in range(4):
            c = plot.flops_name(top * 10 ** k)
            self.assertEqual(series.get("isoflop-" + c), 30, c)
            self.assertEqual(series.get("optimum-" + c), 1, c)
            self.assertEqual(series.get("optimum-interval-" + c), 2, c)
        # A law file has no campaign history: no panels (c) and (d).
        self.assertNotIn("panel-width", series)
        self.assertNotIn("out-of-sample", series)

    def test_png_has_the_requested_size_and_budgets(self):
        out = FOLDER / "law.png"
        p = harness.python_module(["plot", "--law-file", LAW, "--flops",
                                   "1e19,1e21", "--out", str(out), "--width",
                                   "801", "--height", "333", "--dpi", "72"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(harness.png_size(out), (801, 333))

    def test_without_runs_the_budgets_are_required(self):
        p = harness.python_module(["plot", "--law-file", LAW, "--out",
                                   str(FOLDER / "none.svg")])
        self.assertEqual(p.returncode, 2)
        self.assertIn("--flops", p.stderr)


if __name__ == "__main__":
    unittest.main()
