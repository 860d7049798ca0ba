"""moesweep.Client and `python3 -m moesweep plot` against a real campaign.

setUpModule starts `moesweep coordinator` on 127.0.0.1 (a port it picks, a
fresh --db), prepares a tiny corpus with `moesweep data prepare`, creates a
small Chinchilla campaign through the client (tiny dense models, a fixed grid
design, a budget of about twenty runs of 50-200 steps) and lets two real
`moesweep worker --backend cpu` processes train it to the end (a few seconds
on two cores). The tests then compare what the client returns with what the
`moesweep` CLI prints for the same campaign, and check the errors and the
plots.
"""

import json
import math
import os
import threading
import unittest
from pathlib import Path
from unittest import mock

import moesweep
from moesweep import law as lawlib
from moesweep import plot

from . import harness

CAMPAIGN_YAML = """\
name: pyclient
law:
  family: chinchilla
space:
  d_model: [16, 32, 64]
  layers: [1, 2]
  experts: [1]
  top_k: [1]
  tokens: [12800, 25600, 51200]
  vocab_size: 256
  seq_len: 32
  head_dim: 16
budget:
  flops: 2.0e11
question:
  kind: compute_optimal_loss
  flops: 1.0e13
target:
  relative_width: 0.01
max_parallel_runs: 2
training:
  schedule: cosine
  lr: {constant: 3.0e-3}
  batch_tokens: 256
strategy: grid
seed: 1
"""

# A campaign no worker ever trains: its law is never identifiable.
IDLE_YAML = CAMPAIGN_YAML.replace("name: pyclient", "name: pyclient-idle")

WATCH_TIMEOUT_S = 240

# Set by setUpModule.
ENV = {}


def setUpModule():
    folder = harness.temp_dir(unittest.addModuleCleanup)
    binary = harness.binary()
    corpus = folder / "corpus.txt"
    harness.write_corpus(corpus)
    harness.run([binary, "data", "prepare", "--input", f"text:{corpus}",
                 "--out", str(folder / "data" / "default")])
    coordinator = harness.Coordinator(folder)
    unittest.addModuleCleanup(coordinator.stop)
    workers = []
    for i in (1, 2):
        w = harness.start_worker(coordinator, folder / "data", f"py-{i}",
                                 folder)
        unittest.addModuleCleanup(w.stop)
        workers.append(w)
    client = moesweep.Client(coordinator.address,
                             token_file=coordinator.tokens_file)
    unittest.addModuleCleanup(client.close)
    campaign = client.create(CAMPAIGN_YAML)
    cid = campaign["campaign_id"]
    # The whole run through the client's watch; a timer cancels it if the
    # campaign never ends, so a broken build fails instead of hanging.
    watch = client.watch(cid, after_event_seq=-1)
    timer = threading.Timer(WATCH_TIMEOUT_S, watch.cancel)
    timer.start()
    try:
        watched = list(watch)
    finally:
        timer.cancel()
    final = client.campaign(cid)
    if final["state"] not in moesweep.client.FINAL_STATES:
        raise AssertionError(
            f"campaign {cid} did not end in {WATCH_TIMEOUT_S} s: "
            f"{final['state']}\n" + "\n".join(w.output() for w in workers))
    for w in workers:  # free the cores for the rest
        w.stop()
    idle = client.create(IDLE_YAML)
    ENV.update(folder=folder, coordinator=coordinator, client=client,
               id=cid, idle_id=idle["campaign_id"], watched=watched,
               final=final)


class ClientMatchesCliTest(unittest.TestCase):
    """What the client returns equals what `moesweep` prints."""

    def setUp(self):
        self.c = ENV["client"]
        self.id = ENV["id"]
        self.coord = ENV["coordinator"]
        self.conn = ["--coordinator", self.coord.address, "--token-file",
                     self.coord.tokens_file]

    def test_health_is_serving(self):
        self.assertEqual(self.c.health(), "SERVING")

    def test_campaign_ended_on_its_budget_with_a_law(self):
        c = self.c.campaign(self.id)
        self.assertEqual(c["state"], "CAMPAIGN_STATE_BUDGET_EXHAUSTED")
        self.assertIsInstance(c["law_version"], int)
        self.assertGreater(c["law_version"], 0)
        self.assertIsInstance(c["created_unix_ms"], int)
        self.assertIsInstance(c["spent_flops"], float)
        self.assertGreater(c["trials"]["succeeded"], 6)
        harness.assert_same_as_json(
            self, c, harness.cli_json(["campaign", "get", self.id] +
                                      self.conn)["campaign"])

    def test_law_equals_cli(self):
        for _ in range(3):  # a background refit may publish between reads
            law = self.c.law(self.id)
            cli = harness.cli_json(["campaign", "law", self.id] + self.conn)
            if str(law["law"]["version"]) == cli["law"]["version"]:
                break
        harness.assert_same_as_json(self, law, cli)
        self.assertIsInstance(law["law"]["version"], int)
        self.assertIsInstance(law["law"]["num_observations"], int)
        self.assertEqual([p["name"] for p in law["law"]["parameters"]],
                         ["a", "b", "e", "alpha", "beta"])
        self.assertEqual(len(law["law"]["covariance"]), 25)
        # The first law needs p + 1 = 6 runs (fitter/incremental.cc); each
        # later run was predicted before it joined the fit.
        self.assertEqual(len(law["out_of_sample"]),
                         law["law"]["num_observations"] - 6)
        self.assertEqual(law["answer"]["question"], "QUESTION_OPTIMAL_LOSS")

    def test_optimal_equals_cli(self):
        flops = 1e13
        got = self.c.optimal(self.id, flops)
        cli = harness.cli_json(["campaign", "optimal", self.id, "--flops",
                                repr(flops)] + self.conn)
        harness.assert_same_as_json(self, got, cli)
        self.assertIsInstance(got["train_tokens"], int)
        self.assertEqual(got["prediction"]["training_flops"], flops)
        # The same optimum from the law file, in C++ and in Python.
        law_file = ENV["folder"] / "optimal-law.json"
        lawlib.write_law_file(lawlib.from_estimate(self.c.law(self.id)["law"]),
                              law_file)
        best = harness.cli_json(["optimal", "--law-file", str(law_file),
                                 "--flops", repr(flops)])["best"]
        params = (got["prediction"]["features"]["n_total_ne"] +
                  got["prediction"]["features"]["n_embed"])
        self.assertAlmostEqual(got["prediction"]["loss"], best["loss"],
                               delta=1e-12 * best["loss"])
        self.assertAlmostEqual(params, best["params"],
                               delta=1e-9 * best["params"])
        self.assertEqual(got["train_tokens"], int(best["tokens"]))
        mine = lawlib.optimal(lawlib.read_law_file(law_file), flops)["best"]
        self.assertAlmostEqual(mine["loss"], best["loss"],
                               delta=1e-12 * best["loss"])

    def test_optimal_caps_reach_the_coordinator(self):
        free = self.c.optimal(self.id, 1e13)
        features = free["prediction"]["features"]
        cap = (features["n_total_ne"] + features["n_embed"]) / 4
        capped = self.c.optimal(self.id, 1e13, max_total_params=cap)
        params = (capped["prediction"]["features"]["n_total_ne"] +
                  capped["prediction"]["features"]["n_embed"])
        self.assertLessEqual(params, cap * (1 + 1e-9))
        with self.assertRaises(moesweep.Error) as e:
            self.c.optimal(self.id, 1e13, max_params=1)
        self.assertEqual(e.exception.code, "INVALID_ARGUMENT")

    def test_predict_equals_cli_on_the_campaign_law(self):
        # `moesweep campaign` has no predict verb: the campaign's law, written
        # as a law file, goes to `moesweep predict --law-file`. The
        # coordinator does not send its residual scale (LawEstimate has
        # none), so only the mean's interval can be compared.
        law = self.c.law(self.id)["law"]
        law_file = ENV["folder"] / "predict-law.json"
        lawlib.write_law_file(lawlib.from_estimate(law), law_file)
        trial = self.c.trials(self.id, as_frame=False)[0]
        n = trial["features"]["n_total_ne"] + trial["features"]["n_embed"]
        for params, tokens in [(n, trial["features"]["tokens"]),
                               (1e6, 1e8)]:
            got = self.c.predict(self.id, params=params, tokens=tokens)
            self.assertEqual(got["law_version"], law["version"])
            cli = harness.cli_json(["predict", "--law-file", str(law_file),
                                    "--at", f"N={params!r},D={tokens!r}"])
            self.assertAlmostEqual(got["loss"], cli["loss"],
                                   delta=1e-12 * cli["loss"])
            ci = got["confidence_interval"]
            for mine, theirs in zip((ci["lower"], ci["upper"]),
                                    cli["interval"]):
                self.assertAlmostEqual(mine, theirs, delta=1e-9 * theirs)
            self.assertEqual(got["training_flops"], 6 * params * tokens)
            py = lawlib.predict(lawlib.read_law_file(law_file), params, tokens)
            self.assertAlmostEqual(py["loss"], cli["loss"],
                                   delta=1e-12 * cli["loss"])

    def test_predict_an_architecture_as_its_features(self):
        t = self.c.trials(self.id, as_frame=False)[-1]
        by_arch = self.c.predict(self.id,
                                 architecture=t["spec"]["architecture"],
                                 train_tokens=int(t["features"]["tokens"]))
        by_features = self.c.predict(self.id, **t["features"])
        self.assertEqual(by_arch["features"], t["features"])
        self.assertEqual(by_arch["loss"], by_features["loss"])

    def test_trials_page_through_every_page_with_typed_numbers(self):
        campaign = self.c.campaign(self.id)
        count = sum(campaign["trials"].values())
        one_page = self.c.trials(self.id, as_frame=False)
        small_pages = self.c.trials(self.id, page_size=4, as_frame=False)
        self.assertEqual(len(one_page), count)
        self.assertGreater(count, 8)  # so page_size 4 reads 3+ pages
        self.assertEqual(small_pages, one_page)
        t = one_page[0]
        self.assertIsInstance(t["spec"]["train_tokens"], int)
        self.assertIsInstance(t["spec"]["seed"], int)
        self.assertIsInstance(t["trained_tokens"], int)
        self.assertIsInstance(t["created_unix_ms"], int)
        self.assertIsInstance(t["final_eval_loss"], float)
        self.assertIsInstance(t["training_flops"], float)
        self.assertEqual(t["state"], "TRIAL_STATE_SUCCEEDED")
        self.assertIsNone(t["validation"])
        # The CLI, when it can list trials (a binary before --json asked
        # for pages of 10,000, above the coordinator's 1,000).
        p = harness.run([harness.binary(), "campaign", "trials", self.id,
                         "--json", "--page-size", "5"] + self.conn,
                        check=False)
        if p.returncode == 0:
            cli = json.loads(p.stdout)["trials"]
            for mine, theirs in zip(one_page, cli):
                harness.assert_same_as_json(self, mine, theirs)
            self.assertEqual(len(cli), len(one_page))

    @harness.needs_pandas
    def test_trials_frame_has_typed_columns(self):
        trials = self.c.trials(self.id, as_frame=False)
        df = self.c.trials(self.id, page_size=4)
        self.assertEqual(list(df["trial_id"]),
                         [x["spec"]["trial_id"] for x in trials])
        self.assertEqual(str(df["trained_tokens"].dtype), "int64")
        self.assertEqual(str(df["spec.train_tokens"].dtype), "int64")
        self.assertEqual(str(df["final_eval_loss"].dtype), "float64")
        self.assertEqual(str(df["features.tokens"].dtype), "float64")

    def test_curves_hold_every_point_and_end_at_the_final_loss(self):
        trials = [t for t in self.c.trials(self.id, as_frame=False)
                  if t["state"] == "TRIAL_STATE_SUCCEEDED"]
        rows = self.c.curves(self.id, as_frame=False)
        self.assertLessEqual({t["spec"]["trial_id"] for t in trials},
                             {r["trial_id"] for r in rows})
        for t in trials:
            trial_id = t["spec"]["trial_id"]
            points = [r for r in rows if r["trial_id"] == trial_id]
            tokens = [p["trained_tokens"] for p in points]
            self.assertEqual(tokens, sorted(tokens))
            self.assertEqual(points[-1]["trained_tokens"], t["trained_tokens"])
            self.assertEqual(points[-1]["eval_loss"], t["final_eval_loss"])
            self.assertIsNone(points[0]["eval_loss"])

    @harness.needs_pandas
    def test_curves_frame_has_typed_columns(self):
        rows = self.c.curves(self.id, as_frame=False)
        df = self.c.curves(self.id)
        self.assertEqual(len(df), len(rows))
        self.assertEqual(list(df.columns),
                         ["trial_id", "attempt", "step", "trained_tokens",
                          "train_loss", "eval_loss", "learning_rate",
                          "elapsed_seconds"])
        self.assertEqual(str(df["trained_tokens"].dtype), "int64")
        self.assertEqual(str(df["eval_loss"].dtype), "float64")
        self.assertTrue(math.isnan(df["eval_loss"].iloc[0]))

    def test_campaigns_page_through_every_page(self):
        ids = [c["campaign_id"] for c in self.c.campaigns()]
        self.assertEqual(ids, [ENV["idle_id"], self.id])  # newest first
        self.assertEqual([c["campaign_id"] for c in
                          self.c.campaigns(page_size=1)], ids)
        self.assertEqual([c["campaign_id"] for c in self.c.campaigns(
            states=["CAMPAIGN_STATE_BUDGET_EXHAUSTED"])], [self.id])

    def test_watch_and_events_replay_the_stored_log(self):
        watched = ENV["watched"]
        self.assertEqual(watched[0]["kind"], "snapshot")
        self.assertEqual(watched[-1]["kind"], "state_changed")
        self.assertEqual(watched[-1]["state_changed"]["state"],
                         "CAMPAIGN_STATE_BUDGET_EXHAUSTED")
        seqs = [e["event_seq"] for e in watched[1:]]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        events = self.c.events(self.id)
        self.assertEqual([e["event_seq"] for e in events[1:]], seqs)
        self.assertEqual(events[1:], watched[1:])
        kinds = {e["kind"] for e in events}
        self.assertLessEqual({"trial_started", "trial_finished",
                              "law_updated", "answer_updated"}, kinds)

    def test_export_is_the_coordinators_table(self):
        csv_text = self.c.export(self.id, "trials").decode()
        self.assertTrue(csv_text.startswith("trial_id,"))
        self.assertEqual(len(csv_text.strip().splitlines()),
                         len(self.c.trials(self.id, as_frame=False)) + 1)


class ErrorsTest(unittest.TestCase):
    """Each failure raises moesweep.Error with the code the coordinator (or
    the CLI, for bad input) gives."""

    def setUp(self):
        self.c = ENV["client"]
        self.coord = ENV["coordinator"]

    def code_of(self, call):
        with self.assertRaises(moesweep.Error) as e:
            call()
        return e.exception

    def test_unknown_campaign_is_not_found(self):
        for call in (lambda: self.c.campaign("c999999"),
                     lambda: self.c.law("c999999"),
                     lambda: self.c.trials("c999999"),
                     lambda: self.c.optimal("c999999", 1e13)):
            e = self.code_of(call)
            self.assertEqual(e.code, "NOT_FOUND")
            self.assertIn("c999999", e.message)

    def test_law_not_identifiable_is_failed_precondition(self):
        idle = ENV["idle_id"]
        self.assertEqual(self.code_of(lambda: self.c.law(idle)).code,
                         "FAILED_PRECONDITION")
        self.assertEqual(self.code_of(lambda: self.c.predict(
            idle, params=1e5, tokens=1e5)).code, "FAILED_PRECONDITION")

    def test_bad_spec_is_invalid_argument(self):
        e = self.code_of(lambda: self.c.create("name: x\nlaw: nope\n"))
        self.assertEqual(e.code, "INVALID_ARGUMENT")

    def test_unknown_token_is_unauthenticated(self):
        bad = moesweep.Client(self.coord.address, token="x" * 32)
        self.addCleanup(bad.close)
        self.assertEqual(self.code_of(lambda: bad.campaign(ENV["id"])).code,
                         "UNAUTHENTICATED")

    def test_viewer_token_cannot_create(self):
        viewer = moesweep.Client(self.coord.address,
                                 token=self.coord.token("viewer"))
        self.addCleanup(viewer.close)
        self.assertEqual(viewer.campaign(ENV["id"])["campaign_id"], ENV["id"])
        e = self.code_of(lambda: viewer.create(CAMPAIGN_YAML))
        self.assertEqual(e.code, "PERMISSION_DENIED")

    def test_unreachable_coordinator_is_unavailable(self):
        address = f"127.0.0.1:{harness.free_port()}"
        gone = moesweep.Client(address, token="x" * 32, timeout_s=10)
        self.addCleanup(gone.close)
        e = self.code_of(lambda: gone.campaigns())
        self.assertEqual(e.code, "UNAVAILABLE")
        self.assertIn(address, e.message)

    def test_environment_names_the_coordinator_and_token_file(self):
        env = {"MOESWEEP_COORDINATOR": self.coord.address,
               "MOESWEEP_TOKEN_FILE": self.coord.tokens_file}
        with mock.patch.dict(os.environ, env):
            with moesweep.Client() as c:
                self.assertEqual(c.campaign(ENV["id"])["campaign_id"],
                                 ENV["id"])
        env = {"MOESWEEP_COORDINATOR": self.coord.address,
               "MOESWEEP_TOKEN": self.coord.token("viewer")}
        with mock.patch.dict(os.environ, env):
            os.environ.pop("MOESWEEP_TOKEN_FILE", None)
            with moesweep.Client() as c:
                self.assertEqual(c.address, self.coord.address)
                self.assertEqual(c.health(), "SERVING")

    def test_no_token_anywhere_is_invalid_argument(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            e = self.code_of(lambda: moesweep.Client(self.coord.address))
        self.assertEqual(e.code, "INVALID_ARGUMENT")
        self.assertIn("MOESWEEP_TOKEN", e.message)


@harness.needs_matplotlib
class PlotTest(unittest.TestCase):
    """`python3 -m moesweep plot CAMPAIGN` against the coordinator."""

    def setUp(self):
        self.c = ENV["client"]
        self.id = ENV["id"]
        self.coord = ENV["coordinator"]
        self.conn = ["--coordinator", self.coord.address, "--token-file",
                     self.coord.tokens_file]

    def test_svg_holds_every_series_with_its_points(self):
        out = ENV["folder"] / "campaign.svg"
        p = harness.python_module(["plot", self.id, "--out", str(out),
                                   "--points", "25"] + self.conn)
        self.assertEqual(p.returncode, 0, p.stderr)
        series = harness.svg_series(out)
        for panel in ("panel-observations", "panel-isoflop", "panel-width",
                      "panel-out-of-sample"):
            self.assertIn(panel, series)
        # (a) one observed series per model, a marker per run, and its law.
        runs = {}
        for t in self.c.trials(self.id, as_frame=False,
                               states=["TRIAL_STATE_SUCCEEDED"]):
            f = t["features"]
            name = plot.series_name(f["n_total_ne"] + f["n_embed"],
                                    f["num_experts"], f["granularity"],
                                    f["n_active_ne"] + f["n_embed"])
            runs[name] = runs.get(name, 0) + 1
        self.assertEqual(len(runs), 6)  # 3 widths x 2 depths
        for name, count in runs.items():
            self.assertEqual(series.get("observed-" + name), count, name)
            self.assertEqual(series.get("law-" + name), 25, name)
        # (b) four budgets from the largest run's FLOPs to the question's.
        profiles = [g for g in series if g.startswith("isoflop-")]
        self.assertEqual(len(profiles), 4)
        self.assertIn("isoflop-" + plot.flops_name(1e13), profiles)
        for g in profiles:
            c = g[len("isoflop-"):]
            self.assertEqual(series[g], 25)
            self.assertEqual(series["optimum-" + c], 1)
            self.assertEqual(series["optimum-interval-" + c], 2)
        # (c) one point per published answer after the first finished run.
        answers = 0
        spent = 0.0
        for e in self.c.events(self.id):
            if e["kind"] == "trial_finished":
                spent += e["trial_finished"]["training_flops"]
            if e["kind"] == "answer_updated" and spent > 0:
                a = e["answer_updated"]["answer"]
                width = ((a["interval"]["upper"] - a["interval"]["lower"]) /
                         a["value"])
                answers += math.isfinite(width) and width > 0
        self.assertGreater(answers, 0)
        self.assertEqual(series["answer-width"], answers)
        self.assertEqual(series["target-width"], 2)
        # (d) one point per out-of-sample error.
        self.assertEqual(series["out-of-sample"],
                         len(self.c.law(self.id)["out_of_sample"]))

    def test_png_has_the_requested_size(self):
        out = ENV["folder"] / "campaign.png"
        p = harness.python_module(["plot", self.id, "--out", str(out),
                                   "--width", "640", "--height", "480"] +
                                  self.conn)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(harness.png_size(out), (640, 480))

    def test_explicit_budgets_and_in_process_plot(self):
        out = ENV["folder"] / "budgets.svg"
        plot.plot_campaign(self.c, self.id, str(out), flops=[1e12, 1e14],
                           points=10)
        series = harness.svg_series(out)
        self.assertEqual(sorted(g for g in series if g.startswith("isoflop-")),
                         ["isoflop-1.00e+12", "isoflop-1.00e+14"])

    def test_errors_exit_with_the_clis_codes(self):
        out = str(ENV["folder"] / "x.svg")
        p = harness.python_module(["plot", "c999999", "--out", out] +
                                  self.conn)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("NOT_FOUND", p.stderr)
        self.assertFalse(Path(out).exists())
        p = harness.python_module(["plot", self.id, "--out", "x.pdf"] +
                                  self.conn)
        self.assertEqual(p.returncode, 2, p.stderr)
        bad = harness.temp_dir(self.addCleanup) / "bad.token"
        bad.write_text("y" * 32 + "\n")
        p = harness.python_module(
            ["plot", self.id, "--out", out, "--coordinator",
             self.coord.address, "--token-file", str(bad)])
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("UNAUTHENTICATED", p.stderr)
        p = harness.python_module(
            ["plot", self.id, "--out", out, "--coordinator",
             f"127.0.0.1:{harness.free_port()}", "--token-file", str(bad)])
        self.assertEqual(p.returncode, 4, p.stderr)

    def test_the_binarys_plot_verb_draws_the_same(self):
        # `moesweep plot` runs this package: the same series, and its exit
        # codes come through.
        mine, theirs = (ENV["folder"] / "module.svg",
                        ENV["folder"] / "binary.svg")
        args = [self.id, "--points", "12"] + self.conn
        p = harness.python_module(["plot", "--out", str(mine)] + args)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = harness.plot_binary(["--out", str(theirs)] + args)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(harness.svg_series(theirs),
                         harness.svg_series(mine))
        p = harness.plot_binary(["c999999", "--out", str(theirs)] + self.conn)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("c999999", p.stderr)
        p = harness.plot_binary(["--help"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("--law-file", p.stdout)
        p = harness.plot_binary(args + ["--out", str(theirs)],
                                python="/nonexistent/python3")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot run /nonexistent/python3", p.stderr)
        self.assertIn("MOESWEEP_PYTHON", p.stderr)


if __name__ == "__main__":
    unittest.main()
