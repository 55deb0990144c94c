#!/usr/bin/env bash
# cuda_resources: what each built CUDA kernel costs an SM, read from the binary alone (no GPU):
# registers, stack and local memory, spill traffic (STL/LDL in the SASS), static shared memory,
# theoretical occupancy on sm_90 (H100/H200), and whether tensor-core instructions appear.
#
#   ./bench/cuda_resources.sh [--check] [--markdown] [--hot REGEX] [--mma REGEX] BUILD_DIR|LIBRARY
#
# --check: exit 1 when a kernel whose name matches --hot (default: every kernel) has a stack
# frame, local memory or any STL/LDL instruction (a spill or a local array) on any
# architecture, or when a kernel whose name matches --mma (the tensor-core kernels; default
# ^conv_tc_kernel<) has no tensor-core MMA instruction in its sm_80 or sm_90 SASS, or none
# matches on one of them, or has a generic load or store (LD.E/ST.E: the tensor-core kernels
# address global memory as LDG/STG/LDGSTS and shared memory as LDS/LDSM/STS, so a generic access
# is a fragment load or store the compiler left in the generic window). Exit 77 (skipped)
# when cuobjdump or the CUDA library (BUILD_DIR/kernels/libgh_kernels_cuda.a) is absent.
# cuobjdump: $CUOBJDUMP, else PATH, $CUDA_HOME/bin, /usr/local/cuda/bin, or the PyPI wheel
# nvidia-cuda-cuobjdump (python3 -m pip install nvidia-cuda-cuobjdump), or .whl/bin/cuobjdump
# (`make deps` takes it out of that wheel when nvcc is present and cuobjdump is not).
set -u -o pipefail

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
check=0 markdown=0 hot='.' mma_re='^conv_tc_kernel<' target=''
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1 ;;
    --markdown) markdown=1 ;;
    --hot) shift; hot=${1:-.} ;;
    --mma) shift; mma_re=${1:-^conv_tc_kernel<} ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "cuda_resources: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) target=$1 ;;
  esac
  shift
done
[ -n "$target" ] || { usage >&2; exit 2; }

lib=$target
[ -d "$target" ] && lib=$target/kernels/libgh_kernels_cuda.a
if [ ! -f "$lib" ]; then
  echo "cuda_resources: SKIPPED: no CUDA kernel library at $lib (a build without CUDA)"
  exit 77
fi

find_cuobjdump() {
  local c
  for c in "${CUOBJDUMP:-}" "$(command -v cuobjdump 2>/dev/null)" "${CUDA_HOME:-/nonexistent}/bin/cuobjdump" \
           /usr/local/cuda/bin/cuobjdump "$(dirname "$0")/../.whl/bin/cuobjdump"; do
    [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
  done
  c=$(python3 -c 'import glob, nvidia; print(next(iter(sorted(glob.glob(p + "/cu*/bin/cuobjdump") for p in nvidia.__path__)[0]), ""))' 2>/dev/null)
  [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
  return 1
}
CUOBJ=$(find_cuobjdump) || { echo "cuda_resources: SKIPPED: cuobjdump not found (see --help)"; exit 77; }
# cuobjdump -sass runs nvdisasm: the one beside it first (a wheel's bin/ holds both)
export PATH="$(dirname "$CUOBJ"):$PATH"

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
"$CUOBJ" --dump-resource-usage "$lib" >"$tmp/res" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 2; }
"$CUOBJ" -sass "$lib" >"$tmp/sass" 2>>"$tmp/err" || { cat "$tmp/err" >&2; exit 2; }

# per (arch, mangled name): counts of STL, LDL and tensor-core MMA instructions in the SASS
awk '
  /code for sm_/ { arch = $3 }
  /Function : / { fn = $3; key = arch " " fn; if (!(key in seen)) { seen[key] = 1; order[++n] = key } next }
  /[ \t]STL(\.|[ \t])/ { stl[key]++ }
  /[ \t]LDL(\.|[ \t])/ { ldl[key]++ }
  /[ \t](HMMA|HGMMA|IMMA|DMMA|BMMA)(\.|[ \t])/ { mma[key]++ }
  /[ \t](LD|ST)\.E/ { gen[key]++ }
  END { for (i = 1; i <= n; i++) print order[i], stl[order[i]] + 0, ldl[order[i]] + 0, mma[order[i]] + 0, gen[order[i]] + 0 }
' "$tmp/sass" >"$tmp/sass_counts"

# per (arch, mangled name): REG STACK SHARED LOCAL from the resource usage
awk '
  /^arch = / { arch = $3 }
  /^ Function / { fn = $2; sub(/:$/, "", fn); next }
  /REG:/ && fn != "" {
    for (i = 1; i <= NF; i++) { split($i, kv, ":"); v[kv[1]] = kv[2] }
    print arch, fn, v["REG"], v["STACK"], v["SHARED"], v["LOCAL"]; fn = ""
  }
' "$tmp/res" >"$tmp/res_rows"

# demangled short names: namespaces and parameter lists dropped, template arguments kept
cut -d' ' -f2 "$tmp/res_rows" | sort -u >"$tmp/mangled"
c++filt <"$tmp/mangled" | sed -e 's/(anonymous namespace):://g' -e 's/^void //' \
  -e 's/(.*$//' -e 's/unsigned long/u64/g' -e 's/unsigned int/u32/g' -e 's/ //g' >"$tmp/demangled"
paste -d' ' "$tmp/mangled" "$tmp/demangled" >"$tmp/names"

# Threads per block of each launch (a binary does not record them): 256 everywhere but these.
threads_table='sample_kernel=128
colsum_kernel=128 scalar_pow_kernel=1 acc_add_kernel=1 conv_tc_kernel=128'

awk -v check="$check" -v md="$markdown" -v hot="$hot" -v mre="$mma_re" -v tt="$threads_table" '
  FILENAME == ARGV[1] { name[$1] = $2; next }
  FILENAME == ARGV[2] { k = $1 " " $2; stl[k] = $3; ldl[k] = $4; mma[k] = $5; gen[k] = $6; next }
  function ceil_to(x, u) { return int((x + u - 1) / u) * u }
  function min(a, b) { return a < b ? a : b }
  # Theoretical occupancy on sm_90 (the CUDA occupancy calculator with H100/H200 limits):
  # warps W = ceil(T/32); registers are allocated per warp in units of 256, from 65536 per SM:
  # blocks_reg = floor(65536 / (W * ceil256(R*32))); shared memory in units of 128 bytes plus
  # 1 KiB the runtime reserves per block, from 228 KiB per SM: blocks_smem =
  # floor(233472 / (ceil128(S) + 1024)) (S as cuobjdump reports it: on sm_90 it already holds
  # 1 KiB the compiler reserves in a kernel that uses shared memory, so this errs low);
  # blocks_thr = floor(2048 / (32W)); at most 32 blocks. occupancy = min(...) * W / 64 warps.
  function occ90(T, R, S,   W, br, bs, bt, b) {
    W = int((T + 31) / 32)
    br = R > 0 ? int(65536 / (W * ceil_to(R * 32, 256))) : 32
    bs = int(233472 / (ceil_to(S, 128) + 1024))
    bt = int(2048 / (32 * W))
    b = min(min(br, bs), min(bt, 32))
    limit = (b == br ? "regs" : (b == bs ? "smem" : (b == bt ? "threads" : "blocks")))
    return b * W / 64
  }
  BEGIN {
    n = split(tt, e, /[ \n]+/)
    for (i = 1; i <= n; i++) { split(e[i], kv, "="); thr[kv[1]] = kv[2] }
    if (md) {
      print "| arch | kernel | threads | regs | stack B | local B | STL | LDL | smem B | occupancy sm_90 (limit) | MMA |"
      print "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
    } else
      printf "%-6s %-60s %4s %4s %5s %5s %4s %4s %6s %-15s %4s\n", "arch", "kernel", "thr", "reg", "stack", "local", "STL", "LDL", "smem", "occ90(limit)", "MMA"
  }
  {
    arch = $1; k = $1 " " $2; nm = ($2 in name) ? name[$2] : $2
    base = nm; sub(/<.*/, "", base)
    T = (base in thr) ? thr[base] : 256
    R = $3; ST = $4; SM = $5; LO = $6
    occ = "-"
    if (arch == "sm_90") occ = sprintf("%.0f%% (%s)", 100 * occ90(T, R, SM), limit)
    s = stl[k] + 0; l = ldl[k] + 0; m = mma[k] + 0
    if (md)
      printf "| %s | `%s` | %d | %d | %d | %d | %d | %d | %d | %s | %d |\n", arch, nm, T, R, ST, LO, s, l, SM, occ, m
    else
      printf "%-6s %-60s %4d %4d %5d %5d %4d %4d %6d %-15s %4d\n", arch, nm, T, R, ST, LO, s, l, SM, occ, m
    rows++
    if (nm ~ hot) {
      hotrows++
      if (ST > 0 || LO > 0 || s > 0 || l > 0) { bad++; badlist = badlist sprintf("  %s %s: stack %d B, local %d B, %d STL, %d LDL\n", arch, nm, ST, LO, s, l) }
    }
    if (m > 0) mmarows++
    # the tensor-core kernels: HMMA (or another MMA) on each architecture the build targets
    if (nm ~ mre && (arch == "sm_80" || arch == "sm_90")) {
      mmakern[arch]++
      if (m == 0) { nomma++; nommalist = nommalist sprintf("  %s %s\n", arch, nm) }
      if (gen[k] + 0 > 0) { ngen++; genlist = genlist sprintf("  %s %s: %d\n", arch, nm, gen[k]) }
    }
  }
  END {
    printf "%d kernel builds (%d matching the hot pattern), %d with tensor-core MMA instructions\n", rows, hotrows, mmarows > "/dev/stderr"
    if (rows == 0) { print "cuda_resources: no kernel found in the library" > "/dev/stderr"; exit 2 }
    if (check && bad > 0) {
      printf "cuda_resources: FAILED: %d kernel builds use local memory (register spills or local arrays):\n%s", bad, badlist > "/dev/stderr"
      exit 1
    }
    if (check && nomma > 0) {
      printf "cuda_resources: FAILED: %d tensor-core kernel builds (matching %s) have no MMA instruction:\n%s", nomma, mre, nommalist > "/dev/stderr"
      exit 1
    }
    if (check && ngen > 0) {
      printf "cuda_resources: FAILED: %d tensor-core kernel builds (matching %s) address shared memory through generic LD.E/ST.E (fragment loads or stores without .shared):\n%s", ngen, mre, genlist > "/dev/stderr"
      exit 1
    }
    if (check && (mmakern["sm_80"] == 0 || mmakern["sm_90"] == 0)) {
      printf "cuda_resources: FAILED: no kernel matching %s on sm_80 (%d) or sm_90 (%d)\n", mre, mmakern["sm_80"], mmakern["sm_90"] > "/dev/stderr"
      exit 1
    }
    if (check) printf "cuda_resources: no local memory, no STL/LDL in the checked kernels; MMA and no generic LD.E/ST.E in all %d sm_80 and %d sm_90 builds matching %s\n", mmakern["sm_80"], mmakern["sm_90"], mre > "/dev/stderr"
  }
' "$tmp/names" "$tmp/sass_counts" "$tmp/res_rows"
