#!/usr/bin/env bash
# STYLE.md H1: from another folder, include only its public header (<folder>/<folder>.h,
# worker/agent/agent.h for the worker's coordinator client, fitter/arch.h for the
# architecture accounting, worker/trainer/model.h for the model), generated
# proto headers or common/; tests/ and fuzz/ reach internals and are exempt.
# The fitter and kernels never include gRPC or RocksDB headers.
set -u
root=${1:?usage: check_includes.sh ROOT}
cd "$root" || exit 2
folders="common proto fitter campaign coordinator worker kernels cli bench"
bad=0
for src in $(git ls-files '*.h' '*.cc' '*.cu' '*.cuh' 2>/dev/null || find . -name '*.h' -o -name '*.cc'); do
  own=${src%%/*}
  while IFS= read -r line; do
    inc=$(sed -E 's/^#include "([^"]+)".*/\1/' <<<"$line")
    dir=${inc%%/*}
    [[ "$inc" == */* ]] || continue
    [[ " $folders " == *" $dir "* ]] || continue
    [[ "$dir" == "$own" || "$dir" == common || "$own" == tests || "$own" == fuzz ]] && continue
    [[ "$inc" == "$dir/$dir.h" ]] && continue
    # worker/agent/ (the coordinator client) is a library of its own, with
    # its own public header.
    [[ "$inc" == worker/agent/agent.h ]] && continue
    # fitter/arch.h (architecture accounting, moesweep_arch) is one too:
    # the trainer counts its model with it, without the rest of the fitter.
    [[ "$inc" == fitter/arch.h ]] && continue
    # worker/trainer/model.h (the model and its backends, moesweep_model) is
    # one as well: it builds with CUDA and CMake alone, and bench/kernels
    # times its training step on GPU machines that cannot build the rest.
    [[ "$inc" == worker/trainer/model.h ]] && continue
    echo "$src: includes $inc (only $dir/$dir.h may be included from $own/)"
    bad=1
  done < <(grep -E '^#include "' "$src")
done
for src in $(git ls-files 'fitter/*' 'kernels/*' 2>/dev/null); do
  if grep -nE '^#include [<"](grpc|grpcpp|rocksdb)/' "$src"; then
    echo "$src: the fitter and kernels must not include gRPC or RocksDB headers"
    bad=1
  fi
done
exit $bad
