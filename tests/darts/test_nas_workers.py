#!/usr/bin/python3
"""test_nas_workers: proposer searches whose children train on MPI worker ranks
(`mpirun -np 3 gpuhours search ...`: rank 0 coordinates, ranks 1 and 2 train), checked in the
results files with h5py on a tiny NASNet-space search (96 images, 2 cells of 4 channels, one
epoch per child: seconds per run). Exit 77 (skipped) without mpirun.

  sync:   regularized evolution (P = S = 2, so tournaments use the told children) with
          --sync_batch 2 in one process and under mpirun -np 3: the same trials (id,
          genotype, validation accuracy, status), each of the MPI run's by worker 1 or 2
  async:  nasnet-rl (controller batch 2) asynchronous under mpirun -np 3: every child trained
          exactly once (ids 0..n-1), each row naming worker 1 or 2, both used, attribute
          workers = 2, the search phase's cost at least the workers' summed child costs
  resume: regevo asynchronous under mpirun -np 3 killed (SIGKILL) after a few children, then
          `gpuhours search --resume` in one process: the children in flight at the last
          checkpoint are trained again, every id 0..n-1 recorded exactly once
  budget: random under mpirun -np 3 with --budget 1 and 1000 children asked at most: asking
          stops, the children in flight finish, the budget and what was used recorded

usage: test_nas_workers.py GPUHOURS sync|async|resume|budget
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import h5py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dist"))
from mpi_launch import mpirun_cmd  # noqa: E402

TINY = ["--backend", "cpu", "--threads", "1", "--seed", "3", "--dataset", "fashion-mnist",
        "--search_limit", "96", "--search_layers", "2", "--search_channels", "4",
        "--search_batch", "16", "--search_val_limit", "48", "--report_every", "100",
        "--random_epochs", "1", "--space", "nasnet"]


def fail(msg):
    sys.exit("test_nas_workers: FAILED: " + msg)


def run(cmd, env, out):
    p = subprocess.run(cmd + (["-o", out] if out else []), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=240)
    if p.returncode != 0:
        fail("%s exited %d:\n%s" % (" ".join(cmd), p.returncode, p.stdout[-3000:]))
    return p.stdout


def rows(path):
    with h5py.File(path, "r") as f:
        t = f["trials"][:]
        attrs = dict(f.attrs)
        phases = f["phase_costs"][:] if "phase_costs" in f else []
        budget = None
        for r in f["artifacts"][:] if "artifacts" in f else []:
            if r["name"] == b"search_budget":
                o, n = int(r["offset"]), int(r["length"])
                budget = bytes(f["artifact_text"][o:o + n]).decode()
    return t, attrs, phases, budget


def key(r):
    return (int(r["id"]), r["arch"], "%.9g" % float(r["val_acc"]), r["status"])


def check_workers(mode, t, attrs, n):
    ids = sorted(int(i) for i in t["id"])
    if ids != list(range(n)):
        fail("%s: trial ids %s, expected each of 0..%d once" % (mode, ids, n - 1))
    by = {}
    for w in t["worker"]:
        by[int(w)] = by.get(int(w), 0) + 1
    if set(by) - {1, 2}:
        fail("%s: trials by workers %s, expected 1 and 2 only" % (mode, by))
    if int(attrs.get("workers", 0)) != 2:
        fail("%s: attribute workers = %s, expected 2" % (mode, attrs.get("workers")))
    return by


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    exe, mode = sys.argv[1], sys.argv[2]
    got = mpirun_cmd(3)
    if got is None:
        print("test_nas_workers: no mpirun: skipped")
        sys.exit(77)
    mpi, env = got
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    tmp = tempfile.mkdtemp(prefix="nasworkers")
    if mode == "sync":
        args = ["search", "regevo", "--random_archs", "6", "--regevo_population", "2",
                "--regevo_sample", "2", "--sync_batch", "2"] + TINY
        one, many = os.path.join(tmp, "one.h5"), os.path.join(tmp, "mpi.h5")
        run([exe] + args, env, one)
        run(mpi + [exe] + args, env, many)
        t1, _, _, _ = rows(one)
        tn, attrs, _, _ = rows(many)
        a, b = sorted(key(r) for r in t1), sorted(key(r) for r in tn)
        if a != b:
            fail("sync: one process and 2 workers recorded other trials:\n%s\n%s" % (a, b))
        if any(int(w) != 0 for w in t1["worker"]):
            fail("sync: the one-process run's rows name a worker")
        by = check_workers("sync", tn, attrs, 6)
        print("sync: the same 6 trials in one process and on 2 workers %s" % by)
    elif mode == "async":
        args = ["search", "nasnet-rl", "--random_archs", "8", "--rl_batch", "2"] + TINY
        out = os.path.join(tmp, "async.h5")
        log = run(mpi + [exe] + args, env, out)
        t, attrs, phases, _ = rows(out)
        by = check_workers("async", t, attrs, 8)
        if len(by) != 2:
            fail("async: only worker(s) %s trained children" % by)
        if any(s not in (b"ok", b"nan") for s in t["status"]):
            fail("async: statuses %s" % sorted(set(t["status"])))
        child_s = sum(float(x) for x in t["wall_s"])   # each child's cost, from its worker
        search = [p for p in phases if p["phase"] == b"search"]
        if not search or float(search[0]["wall_s"]) + 1e-6 < child_s:
            fail("async: search phase %s below the children's %.3f s" % (search, child_s))
        if "worker 1 trained" not in log or "worker 2 trained" not in log:
            fail("async: no per-worker summary in the output")
        print("async: 8 children, each once, by workers %s; search cost %.2f s >= children "
              "%.2f s" % (by, float(search[0]["wall_s"]), child_s))
    elif mode == "resume":
        n = 80  # a margin: under load the ranks finish several children before the kill lands
        args = ["search", "regevo", "--random_archs", str(n), "--regevo_population", "4",
                "--regevo_sample", "2"] + TINY
        out, log = os.path.join(tmp, "killed.h5"), os.path.join(tmp, "killed.log")
        with open(log, "w") as lf:
            p = subprocess.Popen(mpi + [exe] + args + ["-o", out], env=env, stdout=lf,
                                 stderr=subprocess.STDOUT)
            t0 = time.time()
            while p.poll() is None and time.time() - t0 < 120:
                with open(log) as f:
                    if f.read().count("valid_acc") >= 4:
                        break
                time.sleep(0.1)
            if p.poll() is not None:
                fail("resume: the search ended (rc %s) before it was killed" % p.returncode)
            p.kill()
            p.wait()
        # mpirun's ranks go a moment after mpirun: until then the run has a live writer
        for _ in range(100):
            q = subprocess.run([exe, "search", "--resume", out], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=240)
            if "another gpuhours process is writing" not in q.stdout:
                break
            time.sleep(0.2)
        if q.returncode != 0:
            fail("resume: --resume exited %d:\n%s" % (q.returncode, q.stdout[-3000:]))
        so = q.stdout
        m = re.search(r"resumed after (\d+) children(, (\d+) in flight)?", so)
        if not m:
            fail("resume: no 'resumed after' line:\n%s" % so[-2000:])
        t, _, _, _ = rows(out)
        ids = sorted(int(i) for i in t["id"])
        if ids != list(range(n)):
            fail("resume: trial ids %s, expected each of 0..%d once" % (ids, n - 1))
        print("resume: killed after %s children with %s in flight; %d children, each once"
              % (m.group(1), m.group(3) or 0, n))
    elif mode == "budget":
        args = ["search", "random", "--random_archs", "1000", "--budget", "1"] + TINY
        out = os.path.join(tmp, "budget.h5")
        log = run(mpi + [exe] + args, env, out)
        t, attrs, _, budget = rows(out)
        n = len(t)
        if not 1 <= n < 1000:
            fail("budget: %d children under a 1 s budget" % n)
        check_workers("budget", t, attrs, n)
        if budget is None:
            fail("budget: no search_budget record")
        b = json.loads(budget)
        if b["budget_s"] != 1 or b["stopped_by"] != "budget" or b["children"] != n:
            fail("budget: recorded %s for %d children" % (b, n))
        if "budget of 1 s spent" not in log:
            fail("budget: the stop was not reported")
        print("budget: %d children in %.2f s of a 1 s budget (%s)" % (n, b["used_s"], b))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
