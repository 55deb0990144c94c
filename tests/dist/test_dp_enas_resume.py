#!/usr/bin/python3
"""test_dp_enas_resume: a data-parallel ENAS search killed and resumed with the same or another
number of ranks continues as the uninterrupted run (issue 13's faults), through the binary
(Fashion-MNIST, a few images).

The searches use sync_bn = 1: batch norm then sees the global batch on any number of ranks
(on one process the option does nothing), so 2 ranks, 1 process and a run that changes from
one to the other compute the same search (test_dp.c says how closely). Per-rank batch norm
would be another computation on another number of ranks (the --micro reference of
test_dp_enas), so a change of rank count could not continue it.

1. A 2-rank search (checkpoints asked for after every step; data parallel, enas.c writes them
   at epochs' ends) whose rank 1 is killed with SIGKILL once the first epoch's is written: the
   group ends within seconds with a message naming rank 1, and the run file opens with h5py
   (status running).
2. Its file and checkpoint, copied twice, resumed by 2 ranks and by 1 process, and a 1-process
   search killed within its second epoch (a checkpoint holding the epoch's loss and hit sums so
   far), resumed by 2 ranks: each equals the uninterrupted 2-rank search
   - every controller sample (valid_acc, reward, arc: controller_arcs_epoch_NNN) and every
     derived arc with its valid_acc (enas_derived_arcs), as text: exact. The controllers are
     the same on every rank, a reward is a hit count over the whole validation batch, and the
     checkpoint holds the controller's parameters, Adam moments, draw counter and baseline;
   - the child's epoch rows (train_loss, train_acc): 2 ranks resumed by 2 ranks bit for bit (the
     same computation, the state restored exactly); with the number of ranks changed within
     1e-5 relative (the interrupted epoch's row too: its sums so far counted once): the child's weights then differ by the fp32 summation order of the averaged
     gradient and of sync BN's per-channel sums (test_dp.c's reasoning and its measured worst
     0.16 of that tolerance), and a loss computed with other weights would show it;
   - as many epoch rows as epochs, status finished, and the checkpoint the resume began from
     inside the run (not before its first step, not after its last).

usage: test_dp_enas_resume.py GPUHOURS
Exit 77 (skipped) without mpirun, h5py or the Fashion-MNIST package.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpi_launch  # noqa: E402
from test_dp_cli import artifacts  # noqa: E402

# 3 epochs of 4 steps: long enough to be killed in the second (a 2-rank run's checkpoint is at the
# first's end) and short enough that the fp32 differences of another rank count stay far inside
# the tolerance (0.0013 of it here; a 4th epoch reached 1.9 of it once: summation-order
# differences grow with the steps, test_dp.c measures 3)
EPOCHS, LIMIT, BATCH = 3, 128, 16
STEPS = LIMIT // 2 // BATCH   # steps an epoch: half of LIMIT trains (train_portion 0.5)
ARGS = ["search", "enas", "--search_epochs", str(EPOCHS), "--search_limit", str(LIMIT),
        "--search_layers", "3", "--search_channels", "4", "--search_batch", str(BATCH),
        "--enas_num_cells", "2", "--controller_train_steps", "2",
        "--controller_num_aggregate", "2", "--enas_derive_archs", "3", "--threads", "1",
        "--backend", "cpu", "--seed", "5", "--dataset", "fashion-mnist", "--report_every",
        "1", "--bucket_mb", "1", "--sync_bn", "1", "--checkpoint_every_min", "1e-9"]


def record(path):
    """What is compared: the controller's samples and derived arcs (text), the search's epoch
    rows (train_loss, train_acc), the status."""
    import h5py
    with h5py.File(path, "r") as f:
        a = artifacts(f)
        texts = {k: v for k, v in a.items()
                 if k.startswith("controller_arcs_epoch_") or k == "enas_derived_arcs"}
        rows = [(float(r["train_loss"]), float(r["train_acc"])) for r in f["epochs"][:]
                if r["phase"] == b"search"]
        status = dict(f.attrs).get("status")
    return texts, rows, status.decode() if isinstance(status, bytes) else str(status)


def ckpt_step(path):
    """The step of the checkpoint beside run file path (epoch * steps + step), or None."""
    import h5py
    try:
        with h5py.File(path + ".ckpt", "r") as f:
            return int(f.attrs["step"])
    except (OSError, KeyError):
        return None


def run(cmd, env, d, what):
    p = subprocess.run(cmd, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    if p.returncode:
        print(p.stdout[-3000:])
        sys.exit("test_dp_enas_resume: %s failed (exit %d)" % (what, p.returncode))
    return p.stdout


def run_and_kill(cmd, env, d, path, ranks, target):
    """Starts cmd (writing path), kills one process (rank 1 of 2, or the only one) once the
    checkpoint is at least `target` steps in; returns (failures, the checkpoint step the run
    was left at)."""
    def ready():
        at = ckpt_step(path)
        return at is not None and at >= target
    fails = mpi_launch.kill_one(cmd, env, d, path, ranks, ready, "test_dp_enas_resume",
                                "rank 1 of the ENAS search")
    return fails, ckpt_step(path)


def compare(name, ref, got, exact):
    """Failures of a resumed run's record `got` against the uninterrupted `ref`."""
    fails = 0
    (t1, r1, s1), (t2, r2, s2) = ref, got
    if s2 != "finished" or len(r2) != EPOCHS or len(r1) != EPOCHS:
        print("FAIL %s: status %s, %d epoch rows (reference %d)" % (name, s2, len(r2), len(r1)))
        return 1
    if t1 != t2:
        for k in sorted(set(t1) | set(t2)):
            if t1.get(k) != t2.get(k):
                print("FAIL %s: %s differs:\n  %r\n  %r" % (name, k, t1.get(k), t2.get(k)))
        fails += 1
    worst = 0.0
    for (l1, a1), (l2, a2) in zip(r1, r2):
        for x, y in ((l2, l1), (a2, a1)):
            worst = max(worst, abs(x - y) / (1e-5 * abs(y) + 1e-12))
            if exact and x != y:
                fails += 1
    print("%s: %d controller epochs and the derived arcs identical: %s; child train_loss and "
          "train_acc worst |diff|/(1e-5 |ref|) %.3g%s" %
          (name, len([k for k in t1 if k.startswith("controller_arcs")]), t1 == t2, worst,
           " (bit for bit required)" if exact else ""))
    if not worst <= 1:
        fails += 1
    return fails


def main():
    exe = os.path.abspath(sys.argv[1])
    mpirun, env = mpi_launch.fmnist_group("test_dp_enas_resume")
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        d = os.path.realpath(d)   # rank_pid compares the processes' cwd with it
        out = run(mpirun + [exe] + ARGS + ["--out", "ref.h5"], env, d, "the uninterrupted run")
        ref = record(os.path.join(d, "ref.h5"))
        steps = STEPS
        if "step 1/%d " % steps not in out:   # the trainer's progress lines give the count
            print(out[-2000:])
            sys.exit("test_dp_enas_resume: the search does not take %d steps an epoch" % steps)
        # 2 ranks killed, resumed by 2 ranks and by 1 process
        dead = os.path.join(d, "dead2.h5")
        # (data parallel, checkpoints fall at epochs' ends only: enas.c says why)
        f, at = run_and_kill(mpirun + [exe] + ARGS + ["--out", dead], env, d, dead, 2, steps)
        fails += f
        print("the 2-rank run left its checkpoint at step %s of %d" % (at, EPOCHS * steps))
        if at is None or not 0 < at < EPOCHS * steps:
            print("FAIL: no checkpoint inside the run to resume from")
            sys.exit("test_dp_enas_resume: %d failed" % (fails + 1))
        for ranks in (2, 1):
            sub = os.path.join(d, "r%d" % ranks)
            os.mkdir(sub)
            for suffix in ("", ".ckpt"):
                shutil.copyfile(dead + suffix, os.path.join(sub, "dead2.h5" + suffix))
            cmd = (mpirun if ranks == 2 else []) + [exe, "search", "--resume", "dead2.h5",
                                                    "--threads", "1"]
            run(cmd, env, sub, "resuming with %d rank(s)" % ranks)
            fails += compare("2 ranks killed, resumed by %d" % ranks, ref,
                             record(os.path.join(sub, "dead2.h5")), exact=ranks == 2)
        # 1 process killed, resumed by 2 ranks
        dead = os.path.join(d, "dead1.h5")
        # (one process: within the second epoch, its sums so far the whole batch's)
        f, at = run_and_kill([exe] + ARGS + ["--out", dead], env, d, dead, 1, steps + 2)
        fails += f
        print("the 1-process run left its checkpoint at step %s of %d" % (at, EPOCHS * steps))
        if at is None or not 0 < at < EPOCHS * steps:
            print("FAIL: no checkpoint inside the run to resume from")
            fails += 1
        else:
            run(mpirun + [exe, "search", "--resume", "dead1.h5", "--threads", "1"], env, d,
                "resuming the 1-process run with 2 ranks")
            fails += compare("1 process killed, resumed by 2 ranks", ref, record(dead),
                             exact=False)
    print("test_dp_enas_resume: %d failed" % fails)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
