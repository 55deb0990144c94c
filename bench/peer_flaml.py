#!/usr/bin/env python3
"""bench/peer_flaml.py: FLAML's own AutoML on exactly the splits bench_tune used.

bench_tune --write-splits DIR writes DIR/manifest.csv and one CSV per (dataset, seed): the
features (nominal ones as level text), __target and __fold (holdout: 0 train / 1 validation;
k-fold: the fold index). This script runs flaml.AutoML on each, with the same metric, the same
learners (FLAML's estimator names), the same seed and split, at 10%, 30% and 100% of the
reference budget (a separate fit per budget), and writes rows in bench_tune's CSV format with
searcher "flaml". With --ours it compares against bench_tune's CFO rows.

FLAML needs `pip install flaml scikit-learn pandas xgboost` (xgboost-cpu is enough); lightgbm
is not needed because the learners are given explicitly.

usage: python3 bench/peer_flaml.py DIR [--csv results/bench_flaml.csv]
                                       [--ours results/bench_tune.csv] [--fracs 0.1,0.3,1]
"""
import argparse
import csv
import math
import os
import sys
import time
import warnings


def load_split(path):
    import pandas as pd

    df = pd.read_csv(path, keep_default_na=False, na_values=[""], low_memory=False)
    fold = df.pop("__fold").to_numpy()
    y = df.pop("__target")
    for col in df.columns:
        if df[col].dtype == object:  # nominal features: FLAML treats category dtype natively
            df[col] = df[col].astype("category")
    return df, y, fold


class FoldSplitter:
    """The predefined folds, as a scikit-learn style splitter FLAML accepts for eval_method cv."""

    def __init__(self, fold):
        self.fold = fold
        self.k = int(fold.max()) + 1

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.k

    def split(self, X, y=None, groups=None):
        import numpy as np

        idx = np.arange(len(self.fold))
        for f in range(self.k):
            yield idx[self.fold != f], idx[self.fold == f]


def score_of(metric, loss):
    if metric in ("log_loss", "rmse"):  # bench_tune's convention: exp(-loss)
        return math.exp(-loss)
    return 1.0 - loss if metric in ("roc_auc", "accuracy", "macro_f1", "r2") else loss


def run_flaml(X, y, fold, k, task, metric, budget, estimators, seed):
    from flaml import AutoML

    automl = AutoML()
    kw = dict(task="regression" if task == "regression" else "classification", metric=metric,
              time_budget=budget, estimator_list=estimators, seed=seed, verbose=0,
              retrain_full=False, n_concurrent_trials=1)
    if k == 1:
        tr, va = fold == 0, fold == 1
        automl.fit(X[tr], y[tr], X_val=X[va], y_val=y[va], eval_method="holdout", **kw)
    else:
        automl.fit(X, y, eval_method="cv", split_type=FoldSplitter(fold),
                   n_splits=int(fold.max()) + 1, **kw)
    trials = getattr(automl, "_track_iter", -1) + 1  # iterations run (config_history: only the improvements)
    return automl.best_loss, trials


def compare(ours_csv, flaml_rows):
    rows = list(csv.DictReader(open(ours_csv)))
    cfo = {}
    for r in rows:
        if r["searcher"] == "cfo":
            cfo.setdefault((r["dataset"], r["budget_frac"]), []).append(float(r["best_val_loss"]))
    fl = {}
    for r in flaml_rows:
        fl.setdefault((r["dataset"], r["budget_frac"]), []).append(float(r["best_val_loss"]))
    keys = sorted(set(cfo) & set(fl))
    if not keys:
        print("no common (dataset, budget) rows between the two CSVs")
        return
    print("\nbest validation loss (mean over seeds): our CFO vs FLAML, same splits and budget")
    print(f"{'dataset':18s} {'budget':>7s} {'cfo':>9s} {'flaml':>9s}  better")
    wins = {}
    for k in keys:
        a = sum(cfo[k]) / len(cfo[k])
        b = sum(fl[k]) / len(fl[k])
        w = "cfo" if a < b else ("tie" if a == b else "flaml")
        wins.setdefault(k[1], []).append(a <= b)
        print(f"{k[0]:18s} {float(k[1]) * 100:6.0f}% {a:9.4f} {b:9.4f}  {w}")
    for frac, v in sorted(wins.items()):
        print(f"at {float(frac) * 100:.0f}% of the budget: our CFO at least as good on "
              f"{sum(v)} of {len(v)} datasets")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="the --write-splits directory of bench_tune")
    ap.add_argument("--csv", default="results/bench_flaml.csv")
    ap.add_argument("--ours", help="bench_tune's CSV, to compare with its CFO rows")
    ap.add_argument("--fracs", default="0.1,0.3,1")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    try:
        import flaml  # noqa: F401
        from flaml import AutoML  # noqa: F401
    except ImportError as e:
        sys.exit(f"peer_flaml: FLAML is not installed ({e}); pip install flaml scikit-learn "
                 "pandas xgboost-cpu")
    import logging

    logging.getLogger("flaml.automl.logger").setLevel(logging.ERROR)
    fracs = [float(f) for f in a.fracs.split(",")]
    manifest = list(csv.DictReader(open(os.path.join(a.dir, "manifest.csv"))))
    out_rows = []
    t0 = time.time()
    total = len(manifest) * len(fracs)
    done = 0
    with open(a.csv, "w", newline="") as fo:
        w = csv.writer(fo)
        w.writerow(["dataset", "searcher", "seed", "budget_frac", "budget_s", "best_val_loss",
                    "metric", "score", "trials", "folds"])
        for m in manifest:
            X, y, fold = load_split(os.path.join(a.dir, m["file"]))
            ests = m["learners"].split(",")
            for f in fracs:
                budget = float(m["budget_s"]) * f
                loss, trials = run_flaml(X, y, fold, int(m["folds"]), m["task"], m["metric"],
                                         budget, ests, int(m["seed"]))
                row = [m["dataset"], "flaml", m["seed"], f"{f:.2f}", f"{budget:.3f}",
                       f"{loss:.6g}", m["metric"], f"{score_of(m['metric'], loss):.6g}", trials,
                       m["folds"]]
                w.writerow(row)
                fo.flush()
                out_rows.append(dict(zip(["dataset", "searcher", "seed", "budget_frac",
                                          "budget_s", "best_val_loss"], row)))
                done += 1
                el = time.time() - t0
                print(f"  [{done:3d}/{total}] {m['dataset']:18s} seed {m['seed']} "
                      f"{f * 100:3.0f}%  best loss {loss:.4f}  {trials} trials  "
                      f"ETA {el / done * (total - done):.0f} s", flush=True)
    print(f"csv: {a.csv}")
    if a.ours:
        compare(a.ours, out_rows)


if __name__ == "__main__":
    main()
