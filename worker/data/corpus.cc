// The named corpora: Debian 12 packages of English text, by path. Sizes are
// of the text after gzip, as measured on Debian 12 (README.md, "Training
// data"); licences are in /usr/share/doc/<package>/copyright.

#include "worker/worker.h"

namespace moesweep::worker {

std::vector<TextSource> DebianEnglishCorpus() {
  std::vector<TextSource> corpus = {
      // dict-gcide (GPL-2+): the Collaborative International Dictionary of
      // English, from Webster's 1913; 40.0 MB in dictd's gzip (dictzip).
      {"/usr/share/dictd/gcide.dict.dz", DocumentFormat::kDictionary},
      // python3.11-doc (PSF License 2): the reST sources of the Python
      // documentation; 11.0 MB in 497 pages.
      {"/usr/share/doc/python3.11/html/_sources", DocumentFormat::kFile},
  };
  // fortunes (BSD): quotations and jokes; 1.2 MB.
  for (const char* name :
       {"computers", "cookie", "definitions", "fortunes", "humorists", "law",
        "literature", "people", "science", "wisdom"}) {
    corpus.push_back({std::string("/usr/share/games/fortunes/") + name,
                      DocumentFormat::kFortune});
  }
  return corpus;
}

StatusOr<std::vector<TextSource>> NamedCorpus(std::string_view name) {
  if (name == "debian-en") return DebianEnglishCorpus();
  return NotFoundError("unknown corpus '" + std::string(name) +
                       "' (known: debian-en)");
}

}  // namespace moesweep::worker
