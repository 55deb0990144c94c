#!/usr/bin/env bash
# gpu_check: one command for a GPU machine (`make gpu-check`): configure with CUDA, build, run
# the tests that use the GPU, the kernel benchmark on the GPU (FP32, then the convs at TF32 and
# BF16, beside cuDNN), a DARTS step per precision with and without CUDA graphs, the CUDA tests
# under compute-sanitizer, and (when time is left) the CPU benchmark beside PyTorch; then a
# summary. Stages run in that order of priority, each capped, within one budget.
#
#   ./bench/gpu_check.sh BUILD_DIR
#
# Logs go to $OUT when that variable is set (the device machine's return folder), otherwise to
# BUILD_DIR/gpu-check-logs. Environment: GH_CUDA_ARCHS (CMAKE_CUDA_ARCHITECTURES; default:
# the visible GPU's compute capability), GH_CMAKE_FLAGS (extra configure flags),
# GH_CHECK_BUDGET_S (total seconds, default 480), GH_CHECK_CPU (0: skip the CPU comparison),
# GH_CHECK_TESTS (ctest -R pattern, default the GPU tests; . for every test).
set -u -o pipefail

if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  [ $# -eq 1 ] && exit 0 || exit 2
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1" || exit 2
BUILD=$(cd "$1" && pwd)   # absolute: the test stage runs from inside it
LOG=${OUT:-$BUILD/gpu-check-logs}
mkdir -p "$LOG" || exit 2
LOG=$(cd "$LOG" && pwd)
BUDGET=${GH_CHECK_BUDGET_S:-480}
JOBS=$(nproc)
T0=$(date +%s)
SUMMARY=$LOG/summary.txt
: >"$SUMMARY"

note() { echo "$*" | tee -a "$SUMMARY"; }
elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( BUDGET - $(elapsed) )); }
# stage_timeout CAP: the stage's time limit, never past the whole check's budget
stage_timeout() { local l; l=$(left); [ "$l" -lt "$1" ] && echo "$l" || echo "$1"; }
# run_stage NAME CAP LOGFILE CMD...: runs CMD under a timeout, output to LOGFILE and the
# terminal; records the status and seconds in the summary.
run_stage() {
  local name=$1 cap=$2 logf=$3; shift 3
  local t; t=$(stage_timeout "$cap")
  if [ "$t" -le 5 ]; then note "$name: SKIPPED (budget of ${BUDGET}s spent)"; return 124; fi
  local s; s=$(date +%s)
  echo "== $name (limit ${t}s) =="
  timeout --kill-after=10 "$t" "$@" 2>&1 | tee "$logf"
  local rc=${PIPESTATUS[0]}
  local d=$(( $(date +%s) - s ))
  if [ "$rc" -eq 0 ]; then note "$name: ok (${d}s)";
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then note "$name: TIMED OUT after ${d}s (log: $logf)";
  else note "$name: FAILED, exit $rc (${d}s; log: $logf)"; fi
  return "$rc"
}

{
  echo "gpu-check: $(cd "$SRC" && git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown) on $(hostname), $(date -u +%Y-%m-%dT%H:%M:%SZ), $JOBS cores, budget ${BUDGET}s"
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  else
    echo "gpu: nvidia-smi not found"
  fi
  command -v nvcc >/dev/null 2>&1 && nvcc --version | tail -1 | sed 's/^/nvcc: /'
} | tee -a "$SUMMARY"

ARCHS=${GH_CUDA_ARCHS:-}
if [ -z "$ARCHS" ] && command -v nvidia-smi >/dev/null 2>&1; then
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  [[ "$cc" =~ ^[0-9]+$ ]] && ARCHS=$cc  # one real architecture: half the CUDA compile time
fi
ARCH_FLAG=()
[ -n "$ARCHS" ] && ARCH_FLAG=(-DCMAKE_CUDA_ARCHITECTURES="$ARCHS")

status=0
built=0   # a stale binary from an earlier build must not be benchmarked
# shellcheck disable=SC2086  # GH_CMAKE_FLAGS is a list of flags
run_stage configure 90 "$LOG/configure.log" \
  cmake -S "$SRC" -B "$BUILD" -DGH_CUDA=ON -DCMAKE_BUILD_TYPE=Release "${ARCH_FLAG[@]}" ${GH_CMAKE_FLAGS:-} \
  || status=1
if [ $status -ne 0 ]; then
  grep -E -A3 'CMake Error|required dependency' "$LOG/configure.log" | head -24 | sed 's/^/  /' | tee -a "$SUMMARY"
  grep -E 'dependency .*not found' "$LOG/configure.log" | sed 's/^/  /' | tee -a "$SUMMARY"
fi

if [ $status -eq 0 ]; then
  run_stage build 300 "$LOG/build.log" cmake --build "$BUILD" -j "$JOBS" && built=1 || status=1
  [ $status -ne 0 ] && grep -E -A2 'error|Error' "$LOG/build.log" | head -24 | sed 's/^/  /' | tee -a "$SUMMARY"
fi

if [ $built -eq 1 ]; then
  # registers, spills, occupancy and HMMA per kernel (issue 15): the table goes to the log;
  # a skip (77: no cuobjdump) is reported in the summary, not counted as a failure; a spill is
  run_stage cuda-resources 60 "$LOG/cuda_resources.log" bash -c \
    '"$0" --check "$1"; rc=$?; [ $rc -eq 77 ] && exit 0; exit $rc' \
    "$SRC/bench/cuda_resources.sh" "$BUILD" || status=1
  grep -E 'kernel builds|FAILED|SKIPPED' "$LOG/cuda_resources.log" | sed 's/^/  /' | tee -a "$SUMMARY"
fi

if [ $status -eq 0 ]; then
  # the tests that use a GPU (the CPU ones pass in CI); 8 at a time with 2 OpenMP threads each
  TESTS=${GH_CHECK_TESTS:-cuda|nccl|precision|graph|steady|emu|bench_}
  (cd "$BUILD" && OMP_NUM_THREADS=2 run_stage ctest 150 "$LOG/ctest.log" \
     ctest --output-on-failure -j 8 --timeout 120 -R "$TESTS") || status=1
  grep -E 'tests passed|tests failed out of' "$LOG/ctest.log" | tail -1 | sed 's/^/  /' | tee -a "$SUMMARY"
  nskip=$(grep -c -- '\*\*\*Skipped\|Not Run' "$LOG/ctest.log")
  note "  skipped: $nskip"
  grep -E '^\s+[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess aborted|Exception)' "$LOG/ctest.log" \
    | head -20 | sed 's/^/  /' | tee -a "$SUMMARY"
fi

bench=$BUILD/bench/bench_kernels
if [ $built -eq 1 ] && [ -x "$bench" ]; then
  run_stage bench-gpu 120 "$LOG/bench_gpu.log" "$bench" --gpu --quick --csv "$LOG/bench_gpu.csv" \
    || status=1
  grep -E '^gpu:|geomean|lowest|^TARGET' "$LOG/bench_gpu.log" | sed 's/^/  /' | tee -a "$SUMMARY"
  if grep -q 'gpu: SKIPPED' "$LOG/bench_gpu.log"; then
    note "bench-gpu: no GPU was benchmarked, so this is not a GPU check"; status=1
  fi
  # the tensor-core convs at TF32 and BF16 beside cuDNN at the same math (DEFAULT_MATH on FP32
  # tensors; BF16 tensors, FP32 compute), the conv rows only (the rest is precision-free)
  run_stage bench-gpu-prec 90 "$LOG/bench_gpu_prec.log" "$bench" --gpu --quick --filter conv \
    --precision tf32,bf16 --csv "$LOG/bench_gpu_prec.csv" || status=1
  grep -E '^gpu:|geomean|^note:' "$LOG/bench_gpu_prec.log" | sed 's/^/  /' | tee -a "$SUMMARY"
else
  note "bench-gpu: SKIPPED (the build did not complete)"
fi

# A DARTS search step on the GPU (a smoke supernet: 5 cells, C=8, batch 32, 32x32), both
# orders, at fp32, tf32 and bf16, each without and with CUDA graphs: s/step, the ratio to
# fp32 without graphs, and how many timed steps every pass replayed (issue 15). Exit 1 when
# a cell failed (the table is printed all the same).
darts=$BUILD/bench/bench_darts
if [ $built -eq 1 ] && [ -x "$darts" ]; then
  run_stage darts-gpu 120 "$LOG/darts_gpu.log" "$darts" -b cuda -l 5 -c 8 -n 32 -s 32 -r 5 \
    --matrix || status=1
  grep -E '^# bench_darts|^\| [0-9]|failed|warning|fallback' "$LOG/darts_gpu.log" \
    | grep -v '0 fallbacks' | head -30 | sed 's/^/  /' | tee -a "$SUMMARY"
fi

# compute-sanitizer over the CUDA tests: memcheck (out-of-bounds, misaligned and invalid
# accesses, errors of the API calls) on each, and racecheck (shared-memory hazards: the tiles,
# cp.async stages, WMMA staging) on the one-step precision test, which runs the tensor-core
# convs. From the toolkit, or `make gpu-deps` (NVIDIA's wheel, fetched before the tree comes
# to an offline GPU machine: carry .whl/sanitizer). A test that skips (77) under it is a failure
# here: this stage runs only where a GPU is expected.
SAN=$(command -v compute-sanitizer || true)
for c in /usr/local/cuda/bin/compute-sanitizer "$SRC/.whl/sanitizer/bin/compute-sanitizer"; do
  [ -z "$SAN" ] && [ -x "$c" ] && SAN=$c
done
if [ $built -eq 1 ] && [ -n "$SAN" ]; then
  # shellcheck disable=SC2317  # invoked through bash -c under the stage timeout
  san_stage() {
    local rc=0 t f r tool
    for spec in memcheck:test_kernels_cuda memcheck:test_precision_engine memcheck:test_graphs_cuda \
                memcheck:test_engine_cuda racecheck:test_precision_engine; do
      tool=${spec%%:*}; t=${spec#*:}
      f=$(find "$BUILD/tests" -name "$t" -type f -perm -u+x | head -1)
      if [ -z "$f" ]; then echo "sanitizer: $t: not built"; rc=1; continue; fi
      echo "== compute-sanitizer --tool $tool $t"
      (cd "$BUILD" && "$SAN" --tool "$tool" --error-exitcode 86 "$f" >"$LOG/sanitizer_${tool}_$t.log" 2>&1)
      r=$?
      tail -3 "$LOG/sanitizer_${tool}_$t.log"
      case $r in
        0) echo "sanitizer: $tool $t: clean" ;;
        86) echo "sanitizer: $tool $t: ERRORS (log sanitizer_${tool}_$t.log)"; rc=1 ;;
        77) echo "sanitizer: $tool $t: the test SKIPPED (no GPU seen)"; rc=1 ;;
        *) echo "sanitizer: $tool $t: the test failed, exit $r"; rc=1 ;;
      esac
    done
    return $rc
  }
  export -f san_stage; export SAN BUILD LOG
  run_stage sanitizer 120 "$LOG/sanitizer.log" bash -c san_stage || status=1
  grep -E '^sanitizer: ' "$LOG/sanitizer.log" | sed 's/^/  /' | tee -a "$SUMMARY"
elif [ $built -eq 1 ]; then
  note "sanitizer: SKIPPED (no compute-sanitizer: install the toolkit's, or make gpu-deps before the tree comes here)"
fi

# The CPU comparison at all cores, when time is left: ours against PyTorch (a python3 that
# imports torch) at the same thread count. Informational: it never fails the check.
if [ "${GH_CHECK_CPU:-1}" != 0 ] && [ $built -eq 1 ] && [ "$(left)" -gt 120 ]; then
  PY=""
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import torch' >/dev/null 2>&1; then PY=$p; break; fi
  done
  # shellcheck disable=SC2317  # invoked through bash -c under the stage timeout
  cpu_stage() {
    "$bench" --cpu --quick --threads "$JOBS" --csv "$BUILD/bench_cpu.csv" || return 1
    [ -z "$PY" ] && { echo "cpu: no python3 with torch: comparison skipped"; return 0; }
    "$PY" "$SRC/bench/peer_torch_kernels.py" --quick --threads "$JOBS" --csv "$BUILD/torch_cpu.csv" || return 1
    "$PY" "$SRC/bench/compare_kernels.py" "$BUILD/bench_cpu.csv" "$BUILD/torch_cpu.csv"
  }
  export -f cpu_stage; export bench PY JOBS BUILD SRC
  run_stage bench-cpu "$(( $(left) - 10 ))" "$LOG/bench_cpu.log" bash -c cpu_stage || true
  grep -E 'geomean|^TARGET' "$LOG/bench_cpu.log" | sed 's/^/  /' | tee -a "$SUMMARY"
fi

echo
echo "== gpu-check summary ($(elapsed)s of ${BUDGET}s; logs in $LOG) =="
cat "$SUMMARY"
if [ $status -eq 0 ]; then echo "gpu-check: PASSED (targets above are benchmarks, not pass/fail)";
else echo "gpu-check: FAILED (see the stages above)"; fi
exit $status
