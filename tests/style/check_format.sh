#!/usr/bin/env bash
# STYLE.md: every C++ source is clang-format clean (.clang-format, BasedOnStyle: Google).
set -u
root=${1:?usage: check_format.sh ROOT CLANG_FORMAT}
clang_format=${2:-clang-format}
cd "$root" || exit 2
files=$(git ls-files '*.h' '*.cc' '*.cu' '*.cuh')
[ -n "$files" ] || { echo "no sources found"; exit 1; }
"$clang_format" --dry-run -Werror $files
