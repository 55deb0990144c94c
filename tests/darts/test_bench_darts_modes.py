#!/usr/bin/python3
"""test_bench_darts_modes: bench_darts --precision, --graphs and --matrix on a host backend
(issue 15). Graphs on ref/cpu are the engine's emulation (engine/graph.c): the capture and
replay decisions run, each "replay" runs the region with its launches left out, rewinds and
runs it again, so the losses and weight/alpha hashes of -d must equal those of graphs off bit
for bit, with replays > 0. tf32/bf16 are refused there (exit 2, the backend named); --matrix
prints its fp32 cells and the refused ones, and a failed cell as a row; a bad flag is refused; a warm-up too short for a
capture is warned about.

usage: test_bench_darts_modes.py BENCH_DARTS
"""
import os
import re
import subprocess
import sys

TINY = ["-l", "2", "-c", "4", "-n", "4", "-s", "8", "-t", "2"]
# the final-training step's auxiliary head needs 5x5 at its cell: a larger image, 3 cells
FINAL = ["-l", "3", "-c", "4", "-n", "4", "-s", "32", "-t", "2", "-f", "DARTS_V2"]
failures = []


def run(exe, args):
    env = dict(os.environ, OMP_NUM_THREADS="2", OMP_WAIT_POLICY="PASSIVE")
    p = subprocess.run([exe] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env)
    return p.returncode, p.stdout, p.stderr


def check(ok, what, out=""):
    print("%s: %s" % ("ok" if ok else "FAIL", what))
    if not ok:
        failures.append(what)
        if out:
            print(out)


def graphs_lines(out):
    """(captures, replays, uncaptured, misses, fallbacks, replayed steps, timed) per line."""
    pat = (r"graphs \(emulated\): (\d+) captures, (\d+) replays, (\d+) uncaptured, (\d+) "
           r"misses, (\d+) fallbacks; timed steps: (\d+) of (\d+) replayed in full")
    return [tuple(int(x) for x in m.groups()) for m in re.finditer(pat, out)]


def same_steps(exe, name, args):
    """graphs 1 (emulated) against graphs 0: the same -d rows; replays happened."""
    rc0, out0, err0 = run(exe, args + ["-g", "0"])
    rc1, out1, err1 = run(exe, args + ["-g", "1"])
    check(rc0 == 0 and rc1 == 0, "%s: both runs exit 0 (got %d, %d)" % (name, rc0, rc1),
          err0 + err1)
    s0 = [l for l in out0.splitlines() if l.startswith("step ")]
    s1 = [l for l in out1.splitlines() if l.startswith("step ")]
    check(len(s0) > 0 and s0 == s1, "%s: %d deterministic step rows, graphs 1 == graphs 0"
          % (name, len(s0)), "graphs 0:\n%s\ngraphs 1:\n%s" % ("\n".join(s0), "\n".join(s1)))
    check("graphs 1 (emulated:" in out1.split("\n")[0],
          "%s: the header says graphs 1 (emulated)" % name, out1)
    g = graphs_lines(out1)
    results = [l for l in out1.splitlines() if l.startswith("ours ")]
    check(len(g) == len(results) and len(g) > 0,
          "%s: one graph statistics line per result line (%d, %d)" % (name, len(g), len(results)),
          out1)
    for cap, rep, unc, miss, fall, full, timed in g:
        check(cap > 0 and rep > 0 and unc > 0 and miss == 0 and fall == 0,
              "%s: %d captures, %d replays, %d uncaptured, %d misses, %d fallbacks"
              % (name, cap, rep, unc, miss, fall), out1)
        check(timed == 3 and full == 3, "%s: %d of %d timed steps replayed in full"
              % (name, full, timed), out1)
    check(all(l.endswith("precision fp32 graphs 1 (emulated)") for l in results),
          "%s: result lines name precision fp32 graphs 1 (emulated)" % name, out1)


def main():
    exe = sys.argv[1]
    # 4 warm-up steps: each pass captured by its fourth run, the 3 timed steps all replays
    same_steps(exe, "search", TINY + ["-w", "4", "-r", "3", "-d"])
    same_steps(exe, "final", FINAL + ["-w", "4", "-r", "3", "-d"])

    # a warm-up too short for a capture: the timed figure is not replay's, and it says so
    rc, out, err = run(exe, TINY + ["-o", "1", "-g", "1", "-w", "0", "-r", "2"])
    check(rc == 0 and "warning: no timed step was replayed in full" in out,
          "-w 0 -r 2 --graphs 1: warned that no timed step replayed", out + err)

    for backend, prec in (("cpu", "tf32"), ("ref", "bf16")):
        rc, out, err = run(exe, TINY + ["-o", "1", "-b", backend, "-p", prec])
        check(rc == 2 and ("needs the cuda backend (this engine's is %s" % backend) in err
              and prec in err and "step_s" not in out,
              "--precision %s on %s: exit 2 (got %d), the engine's message naming the backend"
              % (prec, backend, rc), out + err)

    rc, out, err = run(exe, TINY + ["-p", "fp16"])
    check(rc == 2 and "fp16" in err and "bf16" in err,
          "--precision fp16: exit 2 (got %d), the known names listed" % rc, out + err)
    rc, out, err = run(exe, TINY + ["-g", "2"])
    check(rc == 2 and "--graphs 2" in err, "--graphs 2: exit 2 (got %d)" % rc, out + err)

    rc, out, err = run(exe, TINY + ["-m", "-r", "3"])
    check(rc == 0, "--matrix on cpu: exit 0 (got %d)" % rc, out + err)
    for order in (1, 2):
        rows = re.findall(r"^\| %d \| (\w+) \| (\d) \| (.*) \|$" % order, out, re.M)
        check(len(rows) == 6, "--matrix: 6 cells for order %d (got %d)" % (order, len(rows)), out)
        cells = {(p, int(g)): rest for p, g, rest in rows}
        base = re.match(r"([0-9.]+) \| 1\.000 \| - *$", cells.get(("fp32", 0), ""))
        check(base is not None and float(base.group(1)) > 0,
              "--matrix order %d: fp32 graphs 0 timed, ratio 1.000" % order, out)
        gr = re.match(r"([0-9.]+) \| ([0-9.]+) \| 3/3 \(emulated\)$", cells.get(("fp32", 1), ""))
        check(gr is not None and float(gr.group(1)) > 0 and float(gr.group(2)) > 0,
              "--matrix order %d: fp32 graphs 1 timed, ratio, 3/3 steps replayed (emulated)"
              % order, out)
        for p in ("tf32", "bf16"):
            for g in (0, 1):
                check(cells.get((p, g), "").startswith("refused: cpu backend"),
                      "--matrix order %d: %s graphs %d refused: cpu backend" % (order, p, g), out)
    # a cell that fails (the auxiliary head on an 8x8 image) is a table row; the matrix goes on
    rc, out, err = run(exe, ["-l", "3", "-c", "4", "-n", "4", "-s", "8", "-f", "DARTS_V2", "-m",
                             "-r", "1", "-w", "0"])
    rows = re.findall(r"^\| 1 \| (\w+) \| (\d) \| (.*) \|$", out, re.M)
    cells = {(p, int(g)): rest for p, g, rest in rows}
    check(rc == 1 and len(cells) == 6
          and all(r.startswith("failed: ") and "auxiliary head" in r for r in cells.values()),
          "--matrix with failing cells (the arena probe, before the precision): exit 1 (got %d), "
          "6 rows, each failed naming why" % rc, out + err)
    if failures:
        sys.exit("test_bench_darts_modes: %d checks failed" % len(failures))
    print("test_bench_darts_modes: all checks passed")


if __name__ == "__main__":
    main()
