#!/usr/bin/python3
"""test_dp_enas: data-parallel ENAS through the gpuhours binary (Fashion-MNIST, a few images).

`mpirun -np 2 gpuhours search enas` (global batch 16: 8 images a rank) against one process
with --micro 2 (the same global batch in two parts of 8, batch norm per part, in the child's
training and in the rewards: what each rank computes), 2 epochs of 3 child steps, 4 controller
samples an epoch and 3 derived arcs:
- the same arcs sampled, in the same order, with the same rewards (the controller is the same
  on every rank and its rewards are hit counts summed over the ranks: exact);
- the child's epoch training loss (the mean over both ranks' images) within 1e-5 relative of
  the single process's: the child's weights differ only by the fp32 summation order of the
  averaged gradient (test_dp.c gives the tolerance's reasoning), and a loss that moved with
  different weights would show it;
- one results file, written by rank 0, that `gpuhours ls` reads as a finished enas run, and a
  second run with sync_bn = 1 that matches one process at one batch of 16 (batch norm over all
  16 images) the same way, and does not match the per-rank reference; sync_bn with --micro is
  refused with a message (exit 2) before anything is written.

- comm_s counts synchronized batch norm's all-reduces: the selection phase (the derived arcs
  scored, micro cells with batch statistics: no gradient is reduced there) records comm_s > 0
  in the sync_bn file and exactly 0 in the per-rank one, so only batch norm's reductions can
  have put it there; the search's epoch rows' comm_s grow and end at the phase's.
- the 2-rank file holds both ranks' cost rows for each epoch (`test_dp ranks FILE 2 2` reads
  them: rank order, measured wall and CPU seconds and peak memory).

usage: test_dp_enas.py GPUHOURS TEST_DP
Exit 77 (skipped) without mpirun or the Fashion-MNIST package.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpi_launch  # noqa: E402

ARGS = ["search", "enas", "--search_epochs", "2", "--search_limit", "96", "--search_layers", "3",
        "--search_channels", "4", "--search_batch", "16", "--enas_num_cells", "2",
        "--controller_train_steps", "2", "--controller_num_aggregate", "2",
        "--enas_derive_archs", "3", "--threads", "1", "--backend", "cpu", "--seed", "3",
        "--dataset", "fashion-mnist", "--report_every", "100", "--bucket_mb", "1"]

EPOCH = re.compile(r"^enas epoch (\d+): child train_loss (\S+), (controller .*)$")
DERIVE = re.compile(r"^enas derive \d+/\d+: .*$")


def parse(out):
    """(train losses, controller lines, derive lines) of rank 0's stdout."""
    loss, ctrl, der = [], [], []
    for line in out.splitlines():
        m = EPOCH.match(line)
        if m:
            loss.append(float(m.group(2)))
            ctrl.append(m.group(3))
        elif DERIVE.match(line):
            der.append(line)
    return loss, ctrl, der


def compare(name, ref, got):
    """Failures of `got` (2 ranks) against `ref` (one process)."""
    fails = 0
    (l1, c1, d1), (l2, c2, d2) = ref, got
    if len(l1) != 2 or len(d1) != 3:
        print("FAIL %s: the reference printed %d epochs and %d derived arcs" %
              (name, len(l1), len(d1)))
        return 1
    if c1 != c2:
        print("FAIL %s: controller epochs differ:\n  %s\n  %s" % (name, c1, c2))
        fails += 1
    if d1 != d2:
        print("FAIL %s: derived arcs differ:\n  %s\n  %s" % (name, d1, d2))
        fails += 1
    for e, (x, y) in enumerate(zip(l2, l1)):
        print("%s epoch %d child train_loss: 2 ranks %.6f, 1 process %.6f" % (name, e + 1, x, y))
        if not abs(x - y) <= 1e-5 * abs(y) + 1e-6:   # + the 6 printed digits
            fails += 1
    if len(l2) != len(l1):
        fails += 1
    print("%s: %d controller epochs and %d derived arcs identical: %s" %
          (name, len(c1), len(d1), c1 == c2 and d1 == d2))
    return fails


def comm_s(path):
    """(phase -> comm_s of phase_costs, the search's epoch comm_s) of a run file."""
    import h5py
    with h5py.File(path, "r") as f:
        pc = {r["phase"].decode(): float(r["comm_s"]) for r in f["phase_costs"][:]}
        ep = [float(r["comm_s"]) for r in f["epochs"][:] if r["phase"] == b"search"]
    return pc, ep


def check_comm(d):
    """Failures of the comm_s records: sync BN's all-reduces counted (see the docstring)."""
    try:
        import h5py  # noqa: F401
    except ImportError:
        print("no h5py: comm_s not checked")   # the rest of the test still ran
        return 0
    fails = 0
    (pc2, ep2), (pcs, eps) = comm_s(os.path.join(d, "two.h5")), comm_s(os.path.join(d, "sync.h5"))
    print("comm_s per-rank BN: %s, epochs %s" % (pc2, ep2))
    print("comm_s sync_bn:     %s, epochs %s" % (pcs, eps))
    if not (pc2.get("selection") == 0.0 and pcs.get("selection", 0) > 0):
        print("FAIL: the selection phase's comm_s should be 0 without sync_bn and > 0 with it")
        fails += 1
    for name, pc, ep in (("per-rank", pc2, ep2), ("sync_bn", pcs, eps)):
        if not (len(ep) == 2 and 0 < ep[0] <= ep[1] and abs(ep[1] - pc["search"]) < 1e-9):
            print("FAIL %s: epoch comm_s %s do not grow to the search's %s" % (name, ep, pc))
            fails += 1
    return fails


def run(cmd, env, d):
    p = subprocess.run(cmd, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    if p.returncode:
        print(p.stdout[-3000:])
        sys.exit("test_dp_enas: a run failed: " + " ".join(cmd))
    return p.stdout


def main():
    exe = sys.argv[1]
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        print("test_dp_enas: skipped: no Fashion-MNIST package")
        sys.exit(77)
    launch = mpi_launch.mpirun_cmd(2)
    if launch is None:
        print("test_dp_enas: skipped: no mpirun")
        sys.exit(77)
    cmd, env = launch
    env["OMP_NUM_THREADS"] = "1"
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        one = parse(run([exe] + ARGS + ["--micro", "2", "--out", "one.h5"], env, d))
        two = parse(run(cmd + [exe] + ARGS + ["--out", "two.h5"], env, d))
        fails += compare("per-rank batch norm", one, two)
        full = parse(run([exe] + ARGS + ["--out", "full.h5"], env, d))
        sync = parse(run(cmd + [exe] + ARGS + ["--sync_bn", "1", "--out", "sync.h5"], env, d))
        fails += compare("sync_bn", full, sync)
        # the option changes what is computed: per-rank statistics are another run
        if sync[0] == two[0]:
            print("FAIL: sync_bn's training losses equal the per-rank run's", sync[0], two[0])
            fails += 1
        # sync_bn spans the ranks, --micro splits batch norm within one: refused, nothing run
        bad = subprocess.run(cmd + [exe] + ARGS + ["--sync_bn", "1", "--micro", "2", "--out",
                                                   "bad.h5"], cwd=d, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=120)
        print("sync_bn with --micro 2 under mpirun: exit %d" % bad.returncode)
        if bad.returncode != 2 or "sync_bn = 1 with micro = 2" not in bad.stdout:
            print(bad.stdout[-2000:])
            fails += 1
        written = sorted(os.listdir(d))
        if written != ["full.h5", "one.h5", "sync.h5", "two.h5"]:
            print("FAIL: files written:", written)
            fails += 1
        fails += check_comm(d)
        ranks = subprocess.run([sys.argv[2], "ranks", os.path.join(d, "two.h5"), "2", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(ranks.stdout)
        if ranks.returncode:
            fails += 1
        ls = subprocess.run([exe, "ls", "two.h5"], cwd=d, stdout=subprocess.PIPE, text=True)
        rows = [r.split() for r in ls.stdout.splitlines()[1:]]
        print("gpuhours ls two.h5:", rows)
        if ls.returncode or len(rows) != 1 or rows[0][1] != "enas" or rows[0][4] != "finished":
            fails += 1
    print("test_dp_enas: %d failed" % fails)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
