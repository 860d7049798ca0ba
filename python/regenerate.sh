#!/usr/bin/env bash
# Regenerates the checked-in Python messages and stubs, python/moesweep/v1/
# *_pb2.py and *_pb2_grpc.py, from proto/moesweep/v1/*.proto with Debian 12's
# protoc (protobuf-compiler) and grpc_python_plugin (protobuf-compiler-grpc).
# Not python3-grpc-tools: Debian's is too old for proto3 `optional`.
#
#   python/regenerate.sh [OUT_DIR]
#
# Writes OUT_DIR/moesweep/v1/ (default: python/, the checked-in copy). The test
# tests/python/test_regenerate.py regenerates into a temporary folder and
# requires byte-identical files, so run this after every change to proto/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/python}"
plugin="${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}"
mkdir -p "$out/moesweep/v1"
out="$(cd "$out" && pwd)"
# A message file whose proto is gone must go too; __init__.py stays.
rm -f "$out"/moesweep/v1/*_pb2.py "$out"/moesweep/v1/*_pb2_grpc.py
cd "$root"
protoc -Iproto --python_out="$out" --grpc_out="$out" \
  --plugin=protoc-gen-grpc="$plugin" proto/moesweep/v1/*.proto
