#include "worker/data/document_splitter.h"

namespace moesweep::worker {

bool DocumentSplitter::Begins(char c) {
  bool begins = first_;
  switch (format_) {
    case DocumentFormat::kFile:
      break;
    case DocumentFormat::kText:
      if (paragraph_ended_ && c != '\n') begins = true;
      if (document_bytes_ >= kMaxTextDocumentBytes) begins = true;
      break;
    case DocumentFormat::kFortune:
      if (fortune_ended_) begins = true;
      break;
    case DocumentFormat::kDictionary:
      // Definitions are indented; a headword starts in the first column.
      if (line_start_ && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        begins = true;
      }
      break;
  }
  first_ = false;
  if (begins) {
    document_bytes_ = 0;
    paragraph_ended_ = false;
    fortune_ended_ = false;
  }
  ++document_bytes_;
  if (c == '\n') {
    if (line_bytes_ == 0 && !begins) paragraph_ended_ = true;
    if (line_is_percent_) fortune_ended_ = true;
    line_start_ = true;
    line_bytes_ = 0;
    line_is_percent_ = false;
  } else {
    line_start_ = false;
    ++line_bytes_;
    line_is_percent_ = line_bytes_ == 1 && c == '%';
  }
  return begins;
}

}  // namespace moesweep::worker

namespace moesweep::worker {

std::string_view DocumentFormatName(DocumentFormat format) {
  switch (format) {
    case DocumentFormat::kText:
      return "text";
    case DocumentFormat::kFile:
      return "file";
    case DocumentFormat::kFortune:
      return "fortune";
    case DocumentFormat::kDictionary:
      return "dict";
  }
  return "unknown";
}

StatusOr<DocumentFormat> ParseDocumentFormat(std::string_view name) {
  for (DocumentFormat format :
       {DocumentFormat::kText, DocumentFormat::kFile, DocumentFormat::kFortune,
        DocumentFormat::kDictionary}) {
    if (name == DocumentFormatName(format)) return format;
  }
  return InvalidArgumentError("unknown document format '" + std::string(name) +
                              "' (text, file, fortune or dict)");
}

}  // namespace moesweep::worker
