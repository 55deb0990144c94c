#!/usr/bin/env bash
# bench/ab.sh OLD_BUILD NEW_BUILD [ROUNDS]: is NEW no slower than OLD? Alternating rounds (old,
# new, old, new, ...) of bench_darts (first and second order, batch 8) and bench_kernels
# (--quick, CPU) from two build directories on this machine, so that drift in the machine's
# load falls on both; prints each build's median over rounds and the ratio new/old (below 1:
# new is faster). bench_kernels is compared by the geometric mean over ops of the per-op
# median ratio. THREADS (default: nproc) sets the threads of both.
set -euo pipefail
old=$1 new=$2 rounds=${3:-5}
threads=${THREADS:-$(nproc)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq 1 "$rounds"); do
  for side in old new; do
    dir=$([ $side = old ] && echo "$old" || echo "$new")
    "$dir/bench/bench_darts" -n 8 -r 3 -w 1 -t "$threads" > "$tmp/darts-$side-$r.txt" 2>&1
    "$dir/bench/bench_kernels" --quick --cpu --threads "$threads" --csv "$tmp/kern-$side-$r.csv" \
      > /dev/null 2>&1
  done
  echo "round $r/$rounds done" >&2
done
python3 - "$tmp" "$rounds" <<'PY'
import csv, math, re, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
def darts(side, r, order):
    t = open("%s/darts-%s-%d.txt" % (tmp, side, r)).read()
    return float(re.search(r"order=%d step_s p50 (\S+)" % order, t).group(1))
def kern(side, r):
    lines = [l for l in open("%s/kern-%s-%d.csv" % (tmp, side, r)) if not l.startswith("#")]
    return {(x["op"], x["shape"], x["backend"]): float(x["median_ms"])
            for x in csv.DictReader(lines)}
print("%-28s %10s %10s %8s" % ("benchmark (median of %d)" % rounds, "old", "new", "new/old"))
for order in (1, 2):
    o = statistics.median(darts("old", r, order) for r in range(1, rounds + 1))
    n = statistics.median(darts("new", r, order) for r in range(1, rounds + 1))
    print("%-28s %9.4fs %9.4fs %8.3f" % ("bench_darts order %d step" % order, o, n, n / o))
ratios = []
for r in range(1, rounds + 1):
    ko, kn = kern("old", r), kern("new", r)
    common = [k for k in ko if k in kn and ko[k] > 0]
    ratios.append(math.exp(sum(math.log(kn[k] / ko[k]) for k in common) / len(common)))
print("%-28s %10s %10s %8.3f" % ("bench_kernels geomean", "", "", statistics.median(ratios)))
# the ops that moved most (median over rounds of new/old)
per = {}
for r in range(1, rounds + 1):
    ko, kn = kern("old", r), kern("new", r)
    for k in ko:
        if k in kn and ko[k] > 0:
            per.setdefault(k, []).append(kn[k] / ko[k])
moved = sorted(((statistics.median(v), k) for k, v in per.items()), reverse=True)
for item in moved[:5]:
    print("  slowest  %-40s %8.3f" % ("%s %s" % (item[1][0], item[1][1]), item[0]))
for item in moved[-3:]:
    print("  fastest  %-40s %8.3f" % ("%s %s" % (item[1][0], item[1][1]), item[0]))
PY
