"""Client: one connection to a moesweep coordinator's CampaignService.

Every call carries `authorization: Bearer <token>` metadata, as `moesweep
campaign` sends it. Answers are plain dicts with typed numbers (convert.py);
trials and curves come as pandas DataFrames when pandas is installed. Every
failure raises moesweep.Error with the gRPC code's name.

Not thread-safe to configure; calls on one Client may run from several
threads (the gRPC channel is thread-safe).
"""

import os
import queue
import threading

import grpc

from . import convert
from .errors import Error
from .inputs import prediction_input
from .tokens import check_token, token_for
from .watch import Watch
from .v1 import campaign_pb2 as cpb
from .v1 import campaign_pb2_grpc
from .v1 import campaign_state_pb2 as spb
from .v1 import common_pb2
from .v1 import law_pb2 as lpb

DEFAULT_COORDINATOR = "127.0.0.1:7480"

# Campaign states after which a Watch ends (campaign.proto, Watch).
FINAL_STATES = frozenset({"CAMPAIGN_STATE_SUCCEEDED",
                          "CAMPAIGN_STATE_BUDGET_EXHAUSTED",
                          "CAMPAIGN_STATE_CANCELLED",
                          "CAMPAIGN_STATE_FAILED"})

# Pages a listing reads before it stops: a bound on a coordinator that keeps
# handing out page tokens (the CLI's).
_MAX_PAGES = 100_000

_CAPS = ("max_total_params", "max_active_params", "max_memory_bytes",
         "max_flops_per_token")

_EXPORT_TABLES = {"trials": cpb.EXPORT_TABLE_TRIALS,
                  "curves": cpb.EXPORT_TABLE_CURVES,
                  "laws": cpb.EXPORT_TABLE_LAWS,
                  "out_of_sample": cpb.EXPORT_TABLE_OUT_OF_SAMPLE,
                  "validation": cpb.EXPORT_TABLE_VALIDATION}

_HEALTH = ("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")


def _env(name):
    return os.environ.get(name, "")


def _varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7


class Client:
    """A CampaignService client that owns its channel and credentials.

    coordinator: host:port; default $MOESWEEP_COORDINATOR, else 127.0.0.1:7480.
    token: the bearer token itself; else token_file, a token alone or the
      coordinator's '<role> <token>' file (reads use the viewer token, or
      the admin one; create/steer calls the admin token); else
      $MOESWEEP_TOKEN_FILE, else $MOESWEEP_TOKEN.
    tls_ca: PEM file of roots to trust, to talk TLS to a coordinator started
      with --tls-cert; default $MOESWEEP_TLS_CA, else plaintext.
    timeout_s: deadline of each unary call (Watch has none).

    Errors (Error): INVALID_ARGUMENT when no token is given anywhere or a
    token is malformed; NOT_FOUND when the token or PEM file is unreadable.
    """

    def __init__(self, coordinator=None, token=None, token_file=None,
                 tls_ca=None, timeout_s=60.0):
        self.address = (coordinator or _env("MOESWEEP_COORDINATOR") or
                        DEFAULT_COORDINATOR)
        self.timeout_s = timeout_s
        self._token = None
        self._token_file = None
        if token:
            check_token(token, "token")
            self._token = token
        elif token_file or _env("MOESWEEP_TOKEN_FILE"):
            self._token_file = token_file or _env("MOESWEEP_TOKEN_FILE")
            token_for(self._token_file, "viewer")  # fail early, as the CLI
        elif _env("MOESWEEP_TOKEN"):
            check_token(_env("MOESWEEP_TOKEN"), "$MOESWEEP_TOKEN")
            self._token = _env("MOESWEEP_TOKEN")
        else:
            raise Error("INVALID_ARGUMENT",
                        "no token: pass token= or token_file=, or set "
                        "MOESWEEP_TOKEN_FILE (a token file) or MOESWEEP_TOKEN "
                        "(the token)")
        ca = tls_ca or _env("MOESWEEP_TLS_CA")
        if ca:
            try:
                with open(ca, "rb") as f:
                    pem = f.read()
            except OSError:
                raise Error("NOT_FOUND", f"{ca}: cannot read file") from None
            self._channel = grpc.secure_channel(
                self.address, grpc.ssl_channel_credentials(pem))
        else:
            self._channel = grpc.insecure_channel(self.address)
        self._stub = campaign_pb2_grpc.CampaignServiceStub(self._channel)

    # ---- Plumbing ----

    def close(self):
        """Closes the channel; the Client is unusable afterwards."""
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _metadata(self, role):
        token = self._token or token_for(self._token_file, role)
        return (("authorization", "Bearer " + token),)

    def _call(self, method, request, role="viewer"):
        try:
            return getattr(self._stub, method)(
                request, metadata=self._metadata(role), timeout=self.timeout_s)
        except grpc.RpcError as e:
            raise Error.from_rpc(e, self.address) from None

    def health(self):
        """The coordinator's gRPC health ("SERVING", "NOT_SERVING", ...),
        from grpc.health.v1.Health/Check with an empty request; the answer's
        one field (1, varint) decoded by hand, so no health proto is needed."""
        check = self._channel.unary_unary("/grpc.health.v1.Health/Check")
        try:
            data = check(b"", timeout=self.timeout_s)
        except grpc.RpcError as e:
            raise Error.from_rpc(e, self.address) from None
        status, i = 0, 0
        try:
            while i < len(data):
                key, i = _varint(data, i)
                if key != 0x08:  # only field 1, varint, is expected
                    raise IndexError
                status, i = _varint(data, i)
        except IndexError:
            raise Error("INTERNAL", "unexpected health response") from None
        return _HEALTH[status] if status < len(_HEALTH) else str(status)

    # ---- Campaigns ----

    def campaigns(self, states=None, page_size=0):
        """Every campaign, newest first (all pages of List); `states` keeps
        only those in the given CampaignState names."""
        q = cpb.ListCampaignsRequest(
            page_size=page_size,
            states=[spb.CampaignState.Value(s) for s in states or ()])
        out = []
        for _ in range(_MAX_PAGES):
            r = self._call("List", q)
            out.extend(convert.to_dict(c) for c in r.campaigns)
            if not r.next_page_token:
                break
            q.page_token = r.next_page_token
        return out

    def campaign(self, campaign_id):
        """One campaign (Campaign dict). NOT_FOUND for an unknown id."""
        r = self._call("Get", cpb.GetCampaignRequest(campaign_id=campaign_id))
        return convert.to_dict(r.campaign)

    def create(self, yaml_text, request_id="", validate_only=False):
        """Creates a campaign from its YAML spec; returns the Campaign dict.
        INVALID_ARGUMENT naming the field for a bad spec (nothing stored).
        Needs the admin token."""
        r = self._call("Create", cpb.CreateCampaignRequest(
            spec_yaml=yaml_text, request_id=request_id,
            validate_only=validate_only), role="admin")
        return convert.to_dict(r.campaign)

    def cancel(self, campaign_id, reason=""):
        """Cancels a campaign for good (admin); the Campaign afterwards."""
        r = self._call("Cancel", cpb.CancelCampaignRequest(
            campaign_id=campaign_id, reason=reason), role="admin")
        return convert.to_dict(r.campaign)

    def pause(self, campaign_id, stop_running=False):
        """Stops assigning trials (admin); the Campaign afterwards."""
        r = self._call("Pause", cpb.PauseCampaignRequest(
            campaign_id=campaign_id, stop_running=stop_running), role="admin")
        return convert.to_dict(r.campaign)

    def resume(self, campaign_id):
        """Assigns trials again (admin); the Campaign afterwards."""
        r = self._call("Resume", cpb.ResumeCampaignRequest(
            campaign_id=campaign_id), role="admin")
        return convert.to_dict(r.campaign)

    def amend(self, campaign_id, budget_flops=None,
              target_interval_width=None):
        """Raises the budget and/or tightens the target (admin)."""
        q = cpb.AmendCampaignRequest(campaign_id=campaign_id)
        if budget_flops is not None:
            q.budget_flops = budget_flops
        if target_interval_width is not None:
            q.target_interval_width = target_interval_width
        return convert.to_dict(self._call("Amend", q, role="admin").campaign)

    def validate(self, campaign_id, flops):
        """Queues one validation run at `flops` (admin); {"campaign",
        "trial"}."""
        r = self._call("Validate", cpb.ValidateCampaignRequest(
            campaign_id=campaign_id, flops=flops), role="admin")
        return {"campaign": convert.to_dict(r.campaign),
                "trial": convert.to_dict(r.trial)}

    # ---- The law ----

    def law(self, campaign_id, version=0):
        """The law (latest, or `version`) with its covariance, the
        out-of-sample error series, the answer and the validation runs:
        {"law", "out_of_sample", "answer", "validations"}.
        FAILED_PRECONDITION while the law is not identifiable."""
        r = self._call("GetLaw", lpb.GetLawRequest(
            campaign_id=campaign_id, version=version))
        return convert.to_dict(r)

    def predict(self, campaign_id, confidence_level=0, law_version=0,
                **run):
        """The law's prediction at one run, a Prediction dict plus
        "law_version". The run is law features as keywords (RunFeatures
        names, plus params/N, active_params and D: `predict(id,
        params=1e6, tokens=2e7)`), or architecture={...ArchitectureSpec...}
        with train_tokens=."""
        return self.predict_many(campaign_id, [run], confidence_level,
                                 law_version)[0]

    def predict_many(self, campaign_id, runs, confidence_level=0,
                     law_version=0):
        """predict() for several runs (dicts of its keywords) in one call."""
        q = lpb.PredictRequest(campaign_id=campaign_id,
                               confidence_level=confidence_level,
                               law_version=law_version)
        q.inputs.extend(prediction_input(r) for r in runs)
        r = self._call("Predict", q)
        out = []
        for p in r.predictions:
            d = convert.to_dict(p)
            d["law_version"] = r.law_version
            out.append(d)
        return out

    def optimal(self, campaign_id, flops, confidence_level=0, law_version=0,
                **caps):
        """The loss-minimising model at `flops` under optional caps
        (max_total_params, max_active_params, max_memory_bytes,
        max_flops_per_token): an OptimalResponse dict."""
        q = lpb.OptimalRequest(campaign_id=campaign_id, budget_flops=flops,
                               confidence_level=confidence_level,
                               law_version=law_version)
        for key, value in caps.items():
            if key not in _CAPS:
                raise Error("INVALID_ARGUMENT",
                            f"unknown cap '{key}' (one of {', '.join(_CAPS)})")
            setattr(q, key, int(value) if key == "max_memory_bytes"
                    else float(value))
        return convert.to_dict(self._call("Optimal", q))

    # ---- Trials, curves, events ----

    def trials(self, campaign_id, states=None, page_size=0, as_frame=None):
        """Every trial of a campaign in proposal order (all pages of
        ListTrials). A DataFrame when as_frame (default: when pandas is
        installed): one row per trial, nested fields flattened with '.'
        ("features.tokens", "spec.architecture.d_model"), led by trial_id;
        else a list of Trial dicts."""
        q = cpb.ListTrialsRequest(
            campaign_id=campaign_id, page_size=page_size,
            states=[spb.TrialState.Value(s) for s in states or ()])
        trials = []
        for _ in range(_MAX_PAGES):
            r = self._call("ListTrials", q)
            trials.extend(convert.to_dict(t) for t in r.trials)
            if not r.next_page_token:
                break
            q.page_token = r.next_page_token
        if not convert.want_frame(as_frame):
            return trials
        rows = [dict(trial_id=t["spec"]["trial_id"], **convert.flatten(t))
                for t in trials]
        return convert.frame(rows, ["trial_id", "state", "final_eval_loss",
                                    "training_flops", "trained_tokens"])

    def curve(self, campaign_id, trial_id, attempt=0):
        """One trial's stored loss points (LossPoint dicts, all pages of
        GetCurve), by attempt then tokens; attempt 0: every attempt."""
        q = cpb.GetCurveRequest(campaign_id=campaign_id, trial_id=trial_id,
                                attempt=attempt)
        points = []
        for _ in range(_MAX_PAGES):
            r = self._call("GetCurve", q)
            points.extend(convert.to_dict(p) for p in r.points)
            if not r.next_page_token:
                break
            q.page_token = r.next_page_token
        return points

    def curves(self, campaign_id, as_frame=None):
        """The loss curves of every trial (GetCurve for each of trials()):
        a DataFrame with trial_id and the LossPoint columns (eval_loss NaN
        where no eval ran) when as_frame, else a list of point dicts with
        trial_id."""
        rows = []
        for t in self.trials(campaign_id, as_frame=False):
            trial_id = t["spec"]["trial_id"]
            for p in self.curve(campaign_id, trial_id):
                rows.append(dict(trial_id=trial_id, **p))
        if not convert.want_frame(as_frame):
            return rows
        columns = ["trial_id"] + [f.name for f in
                                  common_pb2.LossPoint.DESCRIPTOR.fields]
        df = convert.frame(rows, columns)
        if df.empty:
            df = convert.frame([], None).reindex(columns=columns)
        return df

    def watch(self, campaign_id, after_event_seq=0, include_progress=False):
        """A Watch iterator of CampaignEvent dicts: the snapshot, stored
        events above after_event_seq (-1: all of them), then live ones until
        the campaign ends. Each event's "kind" names its member
        ("law_updated", "trial_finished", ...)."""
        return Watch(self, campaign_id, after_event_seq, include_progress)

    def events(self, campaign_id, idle_s=1.0):
        """The campaign's stored events so far, in order (the snapshot
        first): a Watch from the first event that returns when the campaign
        has ended, or once no event came for idle_s seconds."""
        w = self.watch(campaign_id, after_event_seq=-1)
        box = queue.Queue()

        def pump():
            try:
                for e in w:
                    box.put(("event", e))
                box.put(("end", None))
            except Error as err:
                box.put(("error", err))

        threading.Thread(target=pump, daemon=True).start()
        out = []
        try:
            while True:
                try:
                    kind, value = box.get(timeout=idle_s)
                except queue.Empty:
                    break
                if kind == "error":
                    raise value
                if kind == "end":
                    break
                out.append(value)
        finally:
            w.cancel()
        return out

    def export(self, campaign_id, table="trials", format="csv"):
        """One table as the coordinator exports it (bytes of CSV or JSON
        Lines): trials, curves, laws, out_of_sample or validation."""
        if table not in _EXPORT_TABLES or format not in ("csv", "jsonl"):
            raise Error("INVALID_ARGUMENT",
                        f"table: one of {', '.join(_EXPORT_TABLES)}; format: "
                        f"csv or jsonl; got {table!r}, {format!r}")
        q = cpb.ExportRequest(
            campaign_id=campaign_id, table=_EXPORT_TABLES[table],
            format=(cpb.EXPORT_FORMAT_CSV if format == "csv"
                    else cpb.EXPORT_FORMAT_JSONL))
        try:
            return b"".join(chunk.data for chunk in self._stub.Export(
                q, metadata=self._metadata("viewer"), timeout=self.timeout_s))
        except grpc.RpcError as e:
            raise Error.from_rpc(e, self.address) from None
