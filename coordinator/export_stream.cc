// Export: the trials, curves, laws, out-of-sample and validation tables of a
// campaign.

#include "coordinator/export_stream.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "coordinator/scheduler.h"
#include "coordinator/store.h"

namespace moesweep::coordinator {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;

// One table: a header and rows of already formatted cells.
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

std::string Num(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

std::string CsvCell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Columns that hold text even where a value looks like a number (a worker
// named "7").
bool TextColumn(const std::string& name) {
  return name == "trial_id" || name == "state" || name == "proposer" ||
         name == "worker_id" || name == "parameter" || name == "lineage";
}

// A JSONL value typed as a reader wants it: numbers as numbers (non-finite
// ones, which JSON lacks, and empty cells as null), true and false as
// booleans, the rest as strings.
std::string JsonValue(const std::string& column, const std::string& cell) {
  if (TextColumn(column)) return JsonString(cell);
  if (cell.empty()) return "null";
  if (cell == "true" || cell == "false") return cell;
  char* end = nullptr;
  const double v = std::strtod(cell.c_str(), &end);
  if (end != cell.c_str() && *end == '\0') {
    return std::isfinite(v) ? cell : "null";
  }
  return JsonString(cell);
}

std::string Render(const Table& t, v1::ExportFormat format) {
  std::string out;
  if (format == v1::EXPORT_FORMAT_JSONL) {
    for (const auto& row : t.rows) {
      out += "{";
      for (size_t i = 0; i < row.size(); ++i) {
        if (i > 0) out += ",";
        out += JsonString(t.header[i]) + ":" + JsonValue(t.header[i], row[i]);
      }
      out += "}\n";
    }
    return out;
  }
  auto line = [&out](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(CsvCell(cells[i]));
    }
    out.append("\r\n");
  };
  line(t.header);
  for (const auto& row : t.rows) line(row);
  return out;
}

StatusOr<Table> TrialsTable(const std::vector<v1::Trial>& trials) {
  Table t;
  t.header = {"trial_id", "attempt", "state", "proposer", "worker_id",
              "d_model", "num_layers", "num_experts", "top_k", "granularity",
              "num_shared_experts", "train_tokens", "n_total_ne", "n_active_ne",
              "final_eval_loss", "training_flops", "elapsed_seconds",
              // The law's features under the fitter's names, so that
              // `moesweep fit --data` reads the export as it is.
              "n_embed", "params", "active_params", "tokens", "num_shared",
              "active_experts", "shared_ratio", "validation",
              // Branching campaigns: the run's lineage and its checkpoint.
              "lineage", "resume_from_tokens"};
  for (const v1::Trial& x : trials) {
    const v1::ArchitectureSpec& a = x.spec().architecture();
    t.rows.push_back({x.spec().trial_id(),
                      std::to_string(x.spec().attempt()),
                      v1::TrialState_Name(x.state()),
                      x.proposer(),
                      x.worker_id(),
                      std::to_string(a.d_model()),
                      std::to_string(a.num_layers()),
                      std::to_string(a.num_experts()),
                      std::to_string(a.top_k()),
                      std::to_string(a.granularity()),
                      std::to_string(a.num_shared_experts()),
                      std::to_string(x.spec().train_tokens()),
                      Num(x.features().n_total_ne()),
                      Num(x.features().n_active_ne()),
                      x.has_final_eval_loss() ? Num(x.final_eval_loss()) : "",
                      Num(x.training_flops()),
                      Num(x.elapsed_seconds()),
                      Num(x.features().n_embed()),
                      Num(x.features().n_total_ne() + x.features().n_embed()),
                      Num(x.features().n_active_ne() + x.features().n_embed()),
                      Num(x.features().tokens()),
                      Num(x.features().num_shared()),
                      Num(x.features().active_experts()),
                      Num(x.features().shared_ratio()),
                      x.has_validation() ? "true" : "false",
                      x.spec().lineage(),
                      std::to_string(x.spec().resume_from_tokens())});
  }
  return t;
}

StatusOr<Table> CurvesTable(const Store& store,
                            const std::vector<v1::Trial>& trials) {
  Table t;
  t.header = {"trial_id",   "attempt",   "step",          "trained_tokens",
              "train_loss", "eval_loss", "learning_rate", "elapsed_seconds"};
  for (const v1::Trial& x : trials) {
    for (int32_t a = 1; a <= x.spec().attempt(); ++a) {
      MOESWEEP_ASSIGN_OR_RETURN(std::vector<CurvePoint> points,
                                store.ReadCurve(x.spec().trial_id(), a));
      for (const CurvePoint& cp : points) {
        v1::WorkerMessage m;
        if (!m.ParseFromString(cp.payload)) {
          return DataLossError("store: a report does not parse");
        }
        if (m.has_failed()) continue;  // no loss: not a point
        const v1::LossPoint p = LossPointOf(m);
        t.rows.push_back(
            {x.spec().trial_id(), std::to_string(a), std::to_string(p.step()),
             std::to_string(p.trained_tokens()), Num(p.train_loss()),
             p.has_eval_loss() ? Num(p.eval_loss()) : "",
             Num(p.learning_rate()), Num(p.elapsed_seconds())});
      }
    }
  }
  return t;
}

// The validation runs (issue 12); observed cells empty until observed.
Table ValidationTable(const std::vector<v1::Trial>& trials) {
  Table t;
  t.header = {"trial_id",       "state",          "requested",
              "law_version",    "flops_multiple", "planned_flops",
              "predicted_loss", "lower",          "upper",
              "observed_loss",  "log_error",      "inside"};
  for (const v1::Trial& x : trials) {
    if (!x.has_validation()) continue;
    const v1::Validation& v = x.validation();
    const bool seen = v.has_observed_loss();
    t.rows.push_back(
        {v.trial_id(), v1::TrialState_Name(x.state()),
         v.requested() ? "true" : "false", std::to_string(v.law_version()),
         Num(v.flops_multiple()), Num(v.planned_flops()),
         Num(v.predicted_loss()), Num(v.predicted_interval().lower()),
         Num(v.predicted_interval().upper()),
         seen ? Num(v.observed_loss()) : "", seen ? Num(v.log_error()) : "",
         seen ? (v.inside() ? "true" : "false") : ""});
  }
  return t;
}

}  // namespace

StatusOr<std::string> ExportText(const Scheduler& scheduler, const Store& store,
                                 const v1::ExportRequest& request) {
  v1::ExportFormat format = request.format();
  if (format == v1::EXPORT_FORMAT_UNSPECIFIED) format = v1::EXPORT_FORMAT_CSV;
  if (!v1::ExportFormat_IsValid(format)) {
    return InvalidArgumentError("format: unknown");
  }
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials,
                            scheduler.Trials(request.campaign_id()));
  Table table;
  switch (request.table()) {
    case v1::EXPORT_TABLE_TRIALS: {
      MOESWEEP_ASSIGN_OR_RETURN(table, TrialsTable(trials));
      break;
    }
    case v1::EXPORT_TABLE_CURVES: {
      MOESWEEP_ASSIGN_OR_RETURN(table, CurvesTable(store, trials));
      break;
    }
    case v1::EXPORT_TABLE_VALIDATION: {
      table = ValidationTable(trials);
      break;
    }
    case v1::EXPORT_TABLE_LAWS:
    case v1::EXPORT_TABLE_OUT_OF_SAMPLE: {
      v1::GetLawRequest q;
      q.set_campaign_id(request.campaign_id());
      StatusOr<v1::GetLawResponse> law = scheduler.GetLaw(q);
      if (request.table() == v1::EXPORT_TABLE_OUT_OF_SAMPLE) {
        table.header = {"trial_id", "law_version", "predicted_loss",
                        "observed_loss", "log_error"};
        if (law.ok()) {
          for (const v1::OutOfSampleError& e : law->out_of_sample()) {
            table.rows.push_back({e.trial_id(), std::to_string(e.law_version()),
                                  Num(e.predicted_loss()),
                                  Num(e.observed_loss()), Num(e.log_error())});
          }
        }
        break;
      }
      table.header = {"version",          "parameter", "value",
                      "std_error",        "lower",     "upper",
                      "num_observations", "objective"};
      for (int64_t v = 1; law.ok() && v <= law->law().version(); ++v) {
        q.set_version(v);
        StatusOr<v1::GetLawResponse> one = scheduler.GetLaw(q);
        if (!one.ok()) continue;
        for (const v1::LawParameter& p : one->law().parameters()) {
          table.rows.push_back({std::to_string(v), p.name(), Num(p.value()),
                                Num(p.std_error()), Num(p.interval().lower()),
                                Num(p.interval().upper()),
                                std::to_string(one->law().num_observations()),
                                Num(one->law().objective())});
        }
      }
      break;
    }
    default:
      return InvalidArgumentError(
          "table: choose TRIALS, CURVES, LAWS, OUT_OF_SAMPLE or "
          "VALIDATION");
  }
  return Render(table, format);
}

ExportStream::ExportStream(StatusOr<std::string> text) {
  if (!text.ok()) {
    Finish(ToGrpcStatus(text.status()));
    return;
  }
  text_ = std::move(*text);
  WriteNext();
}

void ExportStream::WriteNext() {
  if (offset_ >= text_.size()) {
    Finish(grpc::Status::OK);
    return;
  }
  const size_t n = std::min(kChunkBytes, text_.size() - offset_);
  chunk_.set_data(text_.substr(offset_, n));
  offset_ += n;
  StartWrite(&chunk_);
}

void ExportStream::OnWriteDone(bool ok) {
  if (!ok) {
    Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "export interrupted"));
    return;
  }
  WriteNext();
}

}  // namespace moesweep::coordinator
