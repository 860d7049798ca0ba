# Shared by the scripts: timed stages and the CUDA toolkit on PATH. Sourced, not run.

# The CUDA toolkit's standard prefix, so CMake finds nvcc when it is installed.
for cuda_bin in /usr/local/cuda/bin /usr/lib/nvidia-cuda-toolkit/bin; do
  if [ -x "$cuda_bin/nvcc" ]; then
    PATH="$PATH:$cuda_bin"
    break
  fi
done
export PATH

# stage NAME COMMAND...: runs COMMAND and prints how long it took.
stage() {
  local name=$1
  shift
  local start=$SECONDS
  echo "== $name"
  local rc=0
  "$@" || rc=$?
  echo "== $name: $((SECONDS - start)) s (exit $rc)"
  return $rc
}
