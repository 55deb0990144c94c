#!/usr/bin/python3
"""test_darts_bitid: the DARTS step's numbers must not move when its memory is planned (issue
14): fixed-seed, deterministic bench_darts runs (first- and second-order search steps of a
small supernet, the final-training step of DARTS_V2) print every step's training loss and
hashes of the weights and alphas after it; they are compared with values recorded before the
arena gave memory back (bench_darts -d). Bit-identical is asserted when the build matches the
recording's signature (OpenBLAS core, -march=native, build type); elsewhere the check is
skipped (exit 77), since rounding then differs by design.

usage: test_darts_bitid.py BENCH_DARTS GPUHOURS --check FILE|--record FILE [--native 0|1]
       [--build TYPE]
"""
import argparse
import os
import re
import subprocess
import sys

RUNS = {
    "search1": ["-l", "5", "-c", "8", "-n", "4", "-o", "1"],
    "search2": ["-l", "5", "-c", "8", "-n", "4", "-o", "2"],
    "final": ["-l", "5", "-c", "8", "-n", "4", "-f", "DARTS_V2"],
}
COMMON = ["-r", "2", "-w", "1", "-t", "2", "-d"]


def fingerprint(exe, name):
    env = dict(os.environ, OMP_NUM_THREADS="2", OMP_WAIT_POLICY="PASSIVE")
    p = subprocess.run([exe] + RUNS[name] + COMMON, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=env)
    if p.returncode != 0:
        sys.exit("test_darts_bitid: %s failed (exit %d):\n%s" % (name, p.returncode, p.stdout))
    rows = [l for l in p.stdout.splitlines() if l.startswith("step ")]
    if len(rows) != 3:
        sys.exit("test_darts_bitid: %s printed %d step rows, expected 3:\n%s"
                 % (name, len(rows), p.stdout))
    return ["%s %s" % (name, r) for r in rows]


def signature(gpuhours, native, build):
    p = subprocess.run([gpuhours, "info"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    m = re.search(r"; core (\S+)", p.stdout)
    return "openblas=%s native=%s build=%s" % (m.group(1) if m else "?", native, build)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_darts")
    ap.add_argument("gpuhours")
    ap.add_argument("--check")
    ap.add_argument("--record")
    ap.add_argument("--native", default="0")
    ap.add_argument("--build", default="Release")
    a = ap.parse_args()
    sig = signature(a.gpuhours, a.native, a.build)
    got = sum((fingerprint(a.bench_darts, n) for n in RUNS), [])
    if a.record:
        with open(a.record, "w") as f:
            f.write("# " + sig + "\n" + "\n".join(got) + "\n")
        print("recorded %d rows (%s)" % (len(got), sig))
        return 0
    lines = open(a.check).read().splitlines()
    want_sig, want = lines[0][2:], lines[1:]
    if want_sig != sig:
        print("test_darts_bitid: recorded on '%s', this build is '%s': skipped" % (want_sig, sig))
        return 77
    bad = [(w, g) for w, g in zip(want, got) if w != g]
    for w, g in bad:
        print("expected %s\n     got %s" % (w, g))
    if bad or len(want) != len(got):
        print("test_darts_bitid: %d of %d rows differ" % (len(bad) + abs(len(want) - len(got)),
                                                          len(want)))
        return 1
    print("test_darts_bitid: %d rows bit-identical (%s)" % (len(got), sig))
    return 0


if __name__ == "__main__":
    sys.exit(main())
