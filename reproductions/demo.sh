#!/bin/sh
# demo.sh: the main job of `make demo` (issue 16): methods side by side on one budget each, then
# the figures and the report of every run in results/. On Fashion-MNIST: DARTS (first order)
# beside random sampling and random search with weight sharing, both given the seconds DARTS's
# search measured in this very run (its phase_costs row), each followed by the same final
# training; regularized evolution, NASNet's RL and random sampling on the NASNet space, 2 seeds
# each on the same seconds budget (search only). On a Weka set: CFO beside random search and
# TPE, same split and budget, 2 seeds. Each run writes results/demo-*.h5 (a run of the demo
# replaces the previous one's files). Measured timings: reproductions/README.md.
# usage: reproductions/demo.sh [GPUHOURS] (default build/gpuhours); needs Debian's python3-h5py
# (/usr/bin/python3: a python3 earlier on PATH may lack it)
set -eu

gh=${1:-build/gpuhours}
res=${GH_DEMO_RESULTS:-results}
plots=${GH_DEMO_PLOTS:-plots}
weka=${GH_DATA_DIR:-.data/weka}
# Seconds budgets: NASNet-space searches (20 s each, 6 runs) and tabular searches (10 s each, 6
# runs).
nasnet_budget=${GH_DEMO_NASNET_BUDGET:-20}
tune_budget=${GH_DEMO_TUNE_BUDGET:-10}
tune_set=${GH_DEMO_TUNE_SET:-credit-g}
# libgomp's threads spin while they wait by default: on shared or loaded cores that steals the
# time of the thread that works (the NASNet smoke presets took minutes instead of 30-60 s)
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

t0=$(date +%s)
step() {
    echo "== demo [$(($(date +%s) - t0)) s, load $(cut -d' ' -f1-3 /proc/loadavg)]: $*"
}

mkdir -p "$res" "$plots"
rm -f "$res"/demo-*.h5 "$res"/demo-*.h5.ckpt "$res"/demo-*.model "$res"/demo-*.log

# 1. DARTS, then its baselines on the seconds its search took
step "DARTS (first order) search and final training"
"$gh" reproduce demo-darts-fashion-mnist --out "$res/demo-darts.h5"
budget=$(/usr/bin/python3 -c '
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    rows = [r for r in f["phase_costs"][:] if r["phase"] == b"search" and r["committed"]]
    print("%.1f" % sum(float(r["wall_s"]) for r in rows))' "$res/demo-darts.h5")
step "DARTS's search took $budget s: the baselines' budget"
step "random sampling (DARTS space), --budget $budget"
"$gh" reproduce demo-random-fashion-mnist --budget "$budget" --out "$res/demo-random.h5"
step "random search with weight sharing, --budget $budget"
"$gh" reproduce demo-random-ws-fashion-mnist --budget "$budget" --out "$res/demo-random-ws.h5"

# 2. Real et al.'s comparison on the NASNet space: 2 seeds, the same seconds each
for seed in 1 2; do
    for m in random-nasnet regevo nasnet-rl; do
        method=$m
        [ "$m" = random-nasnet ] && method=random
        step "$m seed $seed, --budget $nasnet_budget (search only)"
        log="$res/demo-$m-s$seed.log"
        # the smoke presets on a seconds budget, with a population of 3 (tournaments of 2) and
        # controller updates every 2 children: at load 13 a child took 2.4-4.4 s, and 12 s gave
        # 3 children, which a population of 4 left all random (regevo = random sampling)
        "$gh" search "$method" --preset "$m-fashion-mnist-smoke" --seed "$seed" \
            --budget "$nasnet_budget" --random_archs 1000 --regevo_population 3 \
            --regevo_sample 2 --rl_batch 2 \
            --out "$res/demo-$m-s$seed.h5" >"$log" 2>&1 || { tail -n 30 "$log"; exit 1; }
        grep -E "^($method: budget|search done|cost:)" "$log" | cut -c1-160
    done
done

# 3. The tabular search beside its baselines: same set, split and budget, 2 seeds
for seed in 1 2; do
    for s in cfo random tpe; do
        step "tune $tune_set: $s seed $seed, --budget $tune_budget"
        "$gh" tune "$weka/$tune_set.arff" --searcher "$s" --seed "$seed" --budget "$tune_budget" \
            --quiet --out "$res/demo-tune-$tune_set-$s-s$seed.h5"
    done
done

step "figures and report"
"$gh" ls "$res"
"$gh" plot "$res" -o "$plots"
"$gh" report "$res" --latex "$plots/report.tex"
step "done"
