#!/usr/bin/python3
"""test_dp_cli: data-parallel DARTS through the gpuhours binary (Fashion-MNIST, a few images).

1. `mpirun -np 2 gpuhours search darts` (global batch 16: 8 images a rank) against one process
   with --micro 2 (the same global batch in two micro-batches of 8, batch norm per part, which
   is what each rank computes): the same genotype, alphas within 1e-5 relative (test_dp.c
   explains the fp32 summation order behind the tolerance), one results file written by rank
   0 with workers = 2 and a comm_s field in phase_costs, nothing else written, and the epoch's
   training loss and accuracy the means over both ranks' images.
2. A rank killed with SIGKILL mid-search ends the run with a message naming the failure within
   seconds, the results file still opens with h5py, and one process resumes it to the end
   from the checkpoint the 2 ranks wrote.
3. `mpirun -np 2 gpuhours train --genotype DARTS_V2` writes one file with the genotype.

usage: test_dp_cli.py GPUHOURS
Exit 77 (skipped) without mpirun, h5py or the Fashion-MNIST package.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpi_launch  # noqa: E402
from mpi_launch import rank_pid  # noqa: E402,F401  (test_dp_* import it from here)

ARGS = ["search", "darts", "--order", "1", "--search_epochs", "1", "--search_limit", "96",
        "--search_layers", "3", "--search_channels", "4", "--search_batch", "16",
        "--search_val_limit", "32", "--threads", "1", "--backend", "cpu", "--seed", "3",
        "--dataset", "fashion-mnist", "--report_every", "100", "--bucket_mb", "1"]


def artifacts(f):
    """name -> latest text or float array of a run file."""
    out = {}
    for row in f["artifacts"][:]:
        if not row["committed"]:
            break
        name = row["name"].decode()
        o, n = int(row["offset"]), int(row["length"])
        if row["kind"].decode() == "text":
            out[name] = bytes(f["artifact_text"][o:o + n]).decode()
        else:
            out[name] = f["artifact_data"][o:o + n]
    return out


def main():
    exe = sys.argv[1]
    cmd, env = mpi_launch.fmnist_group("test_dp_cli")
    import h5py
    import numpy as np
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        one, two = os.path.join(d, "one.h5"), os.path.join(d, "two.h5")
        p1 = subprocess.run([exe] + ARGS + ["--micro", "2", "--out", one], cwd=d, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=300)
        p2 = subprocess.run(cmd + [exe] + ARGS + ["--out", two], cwd=d, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=300)
        if p1.returncode or p2.returncode:
            print(p1.stdout[-3000:], p2.stdout[-3000:])
            sys.exit("test_dp_cli: a run failed")
        written = sorted(os.listdir(d))
        if written != ["one.h5", "two.h5"]:
            print("FAIL: files written:", written)
            fails += 1
        with h5py.File(one, "r") as f1, h5py.File(two, "r") as f2:
            a1, a2 = artifacts(f1), artifacts(f2)
            if a1["genotype"] != a2["genotype"]:
                print("FAIL: genotypes differ:\n ", a1["genotype"], "\n ", a2["genotype"])
                fails += 1
            for k in ("alphas_normal_epoch_000", "alphas_reduce_epoch_000"):
                x, y = np.asarray(a2[k], np.float64), np.asarray(a1[k], np.float64)
                ratio = np.max(np.abs(x - y) / (1e-7 + 1e-5 * np.abs(y)))
                rel = np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-30))
                print("%s: 2 ranks vs 1 process --micro 2: worst |diff|/threshold %.3g, "
                      "max relative %.3g" % (k, ratio, rel))
                if not ratio <= 1:
                    fails += 1
            # the training means over every rank's images, as one process computes them
            e1, e2 = f1["epochs"][:], f2["epochs"][:]
            for k in ("train_loss", "train_acc"):
                x, y = float(e2[k][0]), float(e1[k][0])
                print("epoch 1 %s: 2 ranks %.6f, 1 process --micro 2 %.6f" % (k, x, y))
                if not abs(x - y) <= 1e-5 * abs(y) + 1e-7:
                    fails += 1
            attrs = dict(f2.attrs)
            workers = attrs["workers"]
            workers = workers.decode() if isinstance(workers, bytes) else str(workers)
            pc = f2["phase_costs"][:]
            print("2 ranks: workers %s, search comm_s %.3f s of %.3f s wall" %
                  (workers, pc["comm_s"][0], pc["wall_s"][0]))
            if workers != "2" or not pc["comm_s"][0] > 0:
                fails += 1
            if f1["phase_costs"][:]["comm_s"][0] != 0:
                fails += 1
            ec = f2["epochs"][:]["comm_s"]   # cumulative within the phase, per epoch
            print("2 ranks: epoch comm_s", list(ec))
            if not (ec[0] > 0 and ec[-1] <= pc["comm_s"][0] + 1e-9):
                fails += 1

        # a rank killed mid-run: the others end with a message, the file stays readable
        dead = os.path.join(d, "dead.h5")
        longer = list(ARGS)
        longer[longer.index("--search_epochs") + 1] = "8"
        longer += ["--checkpoint_every_min", "1e-9"]   # a checkpoint after every step
        p = subprocess.Popen(cmd + [exe] + longer + ["--out", dead], cwd=d, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
        victim, t0 = None, time.time()
        while victim is None and time.time() - t0 < 60:
            time.sleep(0.5)
            if os.path.exists(dead):   # rank 0 is past setup
                victim = rank_pid(1, d)
        if victim is None:
            os.killpg(p.pid, signal.SIGKILL)
            sys.exit("test_dp_cli: rank 1 never started")
        t0 = time.time()   # the first checkpoint (after the first step): the search is under way
        while not os.path.exists(dead + ".ckpt") and time.time() - t0 < 60:
            time.sleep(0.1)
        os.kill(victim, signal.SIGKILL)
        t_kill = time.time()
        try:
            out, _ = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            sys.exit("test_dp_cli: FAIL: the group hangs after rank 1 died")
        waited = time.time() - t_kill
        named = "rank 1" in out or "process rank 1" in out
        print("killed rank 1: the group ended in %.1f s, exit %d, message names it: %s" %
              (waited, p.returncode, named))
        if p.returncode == 0 or not named or waited > 30:
            print(out[-2000:])
            fails += 1
        try:
            with h5py.File(dead, "r") as f:
                print("after the kill the file opens with h5py: status %s, %d epoch rows" %
                      (dict(f.attrs).get("status"), len(f["epochs"])))
        except OSError as e:
            print("FAIL: the file does not open:", e)
            fails += 1
        # resumed by one process (another number of ranks: batches are global)
        if os.path.exists(dead + ".ckpt"):
            p = subprocess.run([exe, "search", "--resume", dead, "--threads", "1"], cwd=d,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=300)
            with h5py.File(dead, "r") as f:
                status, rows = dict(f.attrs).get("status"), len(f["epochs"])
            print("resumed by 1 process: exit %d, status %s, %d epoch rows" %
                  (p.returncode, status, rows))
            if p.returncode or status != b"finished" or rows != 8:
                print(p.stdout[-2000:])
                fails += 1
        else:
            print("no checkpoint was written before the kill: resume not checked")
        # 3. a final training of a named genotype over 2 ranks (rank 1 has no ledger: it used
        # to fail writing the genotype artifact, "ledger_put_text: no ledger")
        tg = os.path.join(d, "tg.h5")
        p = subprocess.run(cmd + [exe, "train", "--genotype", "DARTS_V2", "--threads", "1",
                                  "--backend", "cpu", "--dataset", "fashion-mnist",
                                  "--final_layers", "3", "--final_channels", "4",
                                  "--final_epochs", "1", "--final_limit", "32", "--test_limit",
                                  "32", "--final_batch", "16", "--seeds", "0", "--auxiliary",
                                  "0", "--drop_path", "0", "--out", tg], cwd=d, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=300)
        ok = p.returncode == 0 and os.path.exists(tg)
        if ok:
            with h5py.File(tg, "r") as f:
                a = artifacts(f)
                workers = dict(f.attrs)["workers"]
                workers = workers.decode() if isinstance(workers, bytes) else str(workers)
                ok = "genotype" in a and workers == "2"
        print("train --genotype DARTS_V2 over 2 ranks: exit %d, %s" %
              (p.returncode, "one file, the genotype recorded, workers 2" if ok else "FAIL"))
        if not ok:
            print(p.stdout[-2000:])
            fails += 1
    print("test_dp_cli: %d failed" % fails)
    sys.exit(1 if fails else 0)



if __name__ == "__main__":
    main()
