#!/usr/bin/python3
"""test_cli_badargs: every numeric option of every subcommand, given an out-of-range, a
non-numeric, an empty, an infinite and a not-a-number value: the command exits non-zero, its
message names the option and what it accepts, and it creates no file (no results file, no
results/ directory).

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
    (["train"], "--epochs", ["0", "-3", "1000001"]),
    (["train"], "--batch", ["0", "-3", "65537"]),
    (["train"], "--lr", ["-1", "101"]),
    (["train"], "--momentum", ["-0.1", "1"]),
    (["train"], "--wd", ["-1", "2"]),
    (["train"], "--seed", ["-1", "99999999999999999999"]),
    (["train"], "--max-train", ["-1"]),
    (["train"], "--threads", ["-1", "5000"]),
]


def main():
    exe, data = sys.argv[1], sys.argv[2]
    failed = passed = 0
    for prefix, opt, values in CASES:
        for v in values + COMMON_BAD:
            with tempfile.TemporaryDirectory() as tmp:
                args = [exe] + [a.format(data=data) for a in prefix] + [opt, v]
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
    print("test_cli_badargs: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
