// Where documents begin in a stream of text bytes, by DocumentFormat
// (worker/worker.h). Internal to worker/.

#ifndef MOESWEEP_WORKER_DATA_DOCUMENT_SPLITTER_H_
#define MOESWEEP_WORKER_DATA_DOCUMENT_SPLITTER_H_

#include <cstdint>

#include "worker/worker.h"

namespace moesweep::worker {

// A "text" document is cut once it holds this many bytes.
inline constexpr int64_t kMaxTextDocumentBytes = 1024;

// Reads one file's bytes in order, one call per byte, and keeps only a few
// flags of state, so documents of any length cost no memory.
// Not thread-safe.
class DocumentSplitter {
 public:
  explicit DocumentSplitter(DocumentFormat format) : format_(format) {}

  // True when `c`, the next byte of the file, begins a new document; always
  // true for the file's first byte.
  bool Begins(char c);

 private:
  const DocumentFormat format_;
  bool first_ = true;
  bool line_start_ = true;
  int64_t line_bytes_ = 0;  // bytes of the current line before its '\n'
  int64_t document_bytes_ = 0;
  bool line_is_percent_ = false;  // the current line so far is "%"
  bool fortune_ended_ = false;    // a "%" line ended; next byte begins one
  bool paragraph_ended_ = false;  // a blank line ended; next non-'\n' begins
};

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_DATA_DOCUMENT_SPLITTER_H_
