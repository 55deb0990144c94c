#!/usr/bin/python3
"""test_cli_badargs: every numeric option of every subcommand, given an out-of-range, a
non-numeric, an empty, an infinite and a not-a-number value: the command exits non-zero, its
message names the option and what it accepts, and it creates no file (no results file, no
results/ directory). Also: output paths that are directories or cannot be written, unknown
learners, searchers, methods and presets, a metric for another task, an unknown --retrain and
--model with --retrain never (no model is made); and presets found from
any directory and through $GH_PRESET_PATH.

usage: test_cli_badargs.py GPUHOURS DATA.arff
"""
import os
import subprocess
import sys
import tempfile

COMMON_BAD = ["", "abc", "inf", "nan", "1e400"]

# command prefix (before the option), option, values out of range (besides COMMON_BAD)
CASES = [
    (["tune", "{data}", "-q"], "--budget", ["0", "0.0001", "-5", "1e8"]),
    (["tune", "{data}", "-q"], "--folds", ["0", "17", "-1", "2.5"]),
    (["tune", "{data}", "-q"], "--holdout", ["0", "1", "-0.5"]),
    (["tune", "{data}", "-q"], "--seed", ["-1", "1.5", "99999999999999999999", "1,,2"]),
    (["tune", "{data}", "-q"], "--workers", ["0", "-1", "257", "2.5"]),
    (["train"], "--epochs", ["0", "-3", "1000001"]),
    (["train"], "--batch", ["0", "-3", "65537"]),
    (["train"], "--lr", ["-1", "101"]),
    (["train"], "--momentum", ["-0.1", "1"]),
    (["train"], "--wd", ["-1", "2"]),
    (["train"], "--seed", ["-1", "99999999999999999999"]),
    (["train"], "--max-train", ["-1"]),
    (["train"], "--threads", ["-1", "5000"]),
    (["search", "darts"], "--search_batch", ["-4", "0", "4097"]),
    (["search", "darts"], "--search_epochs", ["0", "-1"]),
    (["search", "darts"], "--search_lr", ["0", "-0.1", "11"]),
    (["search", "darts"], "--order", ["0", "3"]),
    (["search", "darts"], "--train_portion", ["0", "1"]),
    (["search", "darts"], "--seed", ["-1", "99999999999999999999"]),
    (["search", "darts"], "--threads", ["-1"]),
    (["search", "random-ws"], "--random_archs", ["0", "-2"]),
    (["train", "--genotype", "DARTS_V2"], "--final_batch", ["-3", "0"]),
    (["train", "--genotype", "DARTS_V2"], "--final_epochs", ["-1"]),
    (["train", "--genotype", "DARTS_V2"], "--drop_path", ["-0.1", "1"]),
    (["train", "--genotype", "DARTS_V2"], "--seeds",
     ["1,,2", "-1", ",", "1,", "99999999999999999999", "1,1", "1;2"]),
    (["reproduce", "darts-fashion-mnist-smoke"], "--final_batch", ["-3"]),
]
# output paths: an existing directory, a directory that does not exist
PATH_CASES = [
    (["tune", "{data}", "-q", "--budget", "1"], "--out"),
    (["tune", "{data}", "-q", "--budget", "1"], "--model"),
    (["search", "darts"], "--out"),
    (["train", "--genotype", "DARTS_V2"], "--out"),
]
PATHS = ["{tmp}", "/nonexistent-gh-dir/run.h5"]
# other values that must be refused before any file exists: (arguments, words the message has)
OTHER = [
    (["tune", "{data}", "-q", "--learners", "nope"], ["--learners", "nope", "mlp"]),
    (["tune", "{data}", "-q", "--metric", "r2"], ["r2", "regression", "binary"]),
    (["tune", "{data}", "-q", "--searcher", "nope"], ["--searcher", "nope", "cfo"]),
    (["tune", "{data}", "-q", "--retrain", "sometimes"], ["--retrain", "sometimes", "budget"]),
    (["tune", "{data}", "-q", "--retrain", "never", "--model", "m.model"],
     ["--model", "--retrain never"]),
    (["tune", "{data}", "-q", "--no-refit", "--model", "m.model"], ["--model", "--retrain never"]),
    (["search", "nope"], ["nope", "known", "darts"]),
    (["search", "darts", "--method", "nope"], ["nope", "known", "random-ws"]),
    (["search", "darts", "--preset", "nope"], ["preset", "nope", "GH_PRESET_PATH"]),
]


def main():
    exe, data = sys.argv[1], sys.argv[2]
    failed = passed = 0
    # an empty seed list is valid (the run's seed)
    cases = [(p, o, vs + [b for b in COMMON_BAD if b or o != "--seeds"]) for p, o, vs in CASES]
    cases += [(p, o, PATHS) for p, o in PATH_CASES]
    for prefix, opt, values in cases:
        for v in values:
            with tempfile.TemporaryDirectory() as tmp:
                args = [exe] + [a.format(data=data) for a in prefix] + [opt, v.format(tmp=tmp)]
                p = subprocess.run(args, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, timeout=60)
                made = sorted(os.listdir(tmp))
                msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
                bad = []
                if p.returncode == 0:
                    bad.append("exit 0")
                if opt not in msg:
                    bad.append("message does not name %s" % opt)
                if "expected" not in msg:
                    bad.append("message does not say what is accepted")
                if made:
                    bad.append("created %s" % made)
                label = "%s %s %r" % (" ".join(prefix[:1]), opt, v)
                if bad:
                    failed += 1
                    print("FAILED %s: %s (exit %d: %s)" % (label, "; ".join(bad), p.returncode, msg))
                else:
                    passed += 1
                    print("  ok   %s -> %s" % (label, msg))
    for args, words in OTHER:
        with tempfile.TemporaryDirectory() as tmp:
            p = subprocess.run([exe] + [a.format(data=data) for a in args], cwd=tmp,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=60)
            made = sorted(os.listdir(tmp))
            missing = [w for w in words if w not in p.stderr]
            ok = p.returncode != 0 and not missing and not made
            passed += ok
            failed += not ok
            print("%s %s -> exit %d: %s%s" % ("  ok  " if ok else "FAILED", " ".join(args),
                                            p.returncode, p.stderr.strip().splitlines()[-1:],
                                            "" if ok else " (missing %s, created %s)" %
                                            (missing, made)))
    # a preset is found from anywhere (the source tree recorded at build time) and through
    # $GH_PRESET_PATH
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "mine.conf")
        with open(conf, "w") as f:
            f.write("[search]\nsearch_epochs = 3\n")
        for args, env in ((["search", "darts", "--preset", "darts-fashion-mnist-smoke", "--help"],
                           {}),
                          (["search", "darts", "--preset", "mine", "--help"],
                           {"GH_PRESET_PATH": "/nonexistent:" + tmp})):
            p = subprocess.run([exe] + args, cwd=tmp, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=60,
                               env=dict(os.environ, **env))
            ok = p.returncode == 0
            passed += ok
            failed += not ok
            print("%s preset lookup %s %s -> exit %d %s" % ("  ok  " if ok else "FAILED",
                                                           args[3], env, p.returncode,
                                                           p.stderr.strip()[-200:]))
    print("test_cli_badargs: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
