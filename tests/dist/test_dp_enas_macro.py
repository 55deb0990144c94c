#!/usr/bin/python3
"""test_dp_enas_macro: ENAS's macro space data parallel (`mpirun -np 2 gpuhours search
enas-macro`) through the binary (Fashion-MNIST, a few images), 3 epochs of 3 child steps.

The macro child's rewards are scored with batch norm's running statistics (general_child.py:
is_training=False), which each rank updates from its own shard: unreconciled, every rank scored
its validation rows with another model and a checkpoint (rank 0's) was not every rank's state.
enas.c averages them over the ranks after every step.

1. With sync_bn = 1, 2 ranks at batch b = 1 process at batch 2b (batch norm over the global
   batch in training, the same running statistics): the same controller samples and rewards
   (printed per epoch) and derived arcs, exactly (hit counts over the whole validation batch);
   the child's epoch training loss within 1e-5 relative (the fp32 summation order of the
   averaged gradient, test_dp.c's reasoning) and the same printed six digits otherwise.
2. Per-rank batch norm: the first epoch's child training loss equals 1 process --micro 2's
   (batch norm per half, what each rank computes) within the same 1e-5: the arcs trained then
   are the untrained controller's draws, alike in both. Later epochs are not compared: the
   rewards differ by design (--micro 2 updates the running statistics twice a step, in turn;
   the ranks once each, averaged), so the controllers part.
3. Per-rank batch norm, rank 1 killed after the first epoch's checkpoint and the run resumed
   by 2 ranks: the controller samples, derived arcs and epoch rows equal the uninterrupted
   2-rank run's bit for bit (every rank resumes from rank 0's running statistics, every rank's
   because they are averaged; test_dp mpi checks the averaging itself: this small run's
   rewards do not move when the ranks' statistics part, so it would pass without it).

usage: test_dp_enas_macro.py GPUHOURS
Exit 77 (skipped) without mpirun, h5py or the Fashion-MNIST package.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpi_launch  # noqa: E402
import test_dp_enas_resume as res  # noqa: E402
from test_dp_enas import parse  # noqa: E402

EPOCHS = 3
ARGS = ["search", "enas-macro", "--search_epochs", str(EPOCHS), "--search_limit", "96",
        "--search_layers", "3", "--search_channels", "4", "--search_batch", "16",
        "--controller_train_steps", "2", "--controller_num_aggregate", "2",
        "--enas_derive_archs", "3", "--threads", "1", "--backend", "cpu", "--seed", "3",
        "--dataset", "fashion-mnist", "--report_every", "1", "--bucket_mb", "1"]
STEPS = 3   # 48 training images (half of 96) at 16


def run(cmd, env, d):
    p = subprocess.run(cmd, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    if p.returncode:
        print(p.stdout[-3000:])
        sys.exit("test_dp_enas_macro: a run failed: " + " ".join(cmd))
    return p.stdout


def close(x, y):
    return abs(x - y) <= 1e-5 * abs(y) + 1e-6   # + the 6 printed digits


def main():
    exe = os.path.abspath(sys.argv[1])
    mpirun, env = mpi_launch.fmnist_group("test_dp_enas_macro")
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        d = os.path.realpath(d)
        # 1. sync_bn: 2 ranks x 8 = 1 process x 16
        (l1, c1, d1) = parse(run([exe] + ARGS + ["--out", "full.h5"], env, d))
        (l2, c2, d2) = parse(run(mpirun + [exe] + ARGS + ["--sync_bn", "1", "--out", "sync.h5"],
                                 env, d))
        ok = len(l1) == EPOCHS and len(d1) == 3 and c1 == c2 and d1 == d2 and len(l2) == len(l1)
        for e, (x, y) in enumerate(zip(l2, l1)):
            print("sync_bn epoch %d child train_loss: 2 ranks %.6f, 1 process at twice the batch "
                  "%.6f" % (e + 1, x, y))
            ok = ok and close(x, y)
        t1 = res.record(os.path.join(d, "full.h5"))[0]
        t2 = res.record(os.path.join(d, "sync.h5"))[0]
        print("sync_bn: %d controller epochs, every sample's valid_acc and reward, and the "
              "derived arcs identical: %s" % (len(c1), c1 == c2 and d1 == d2 and t1 == t2))
        if not (ok and t1 == t2):
            print("FAIL sync_bn:\n  %s\n  %s\n  %s\n  %s" % (c1, c2, d1, d2))
            fails += 1
        # 2. per-rank batch norm: the first epoch's training against --micro 2
        (m1, _, _) = parse(run([exe] + ARGS + ["--micro", "2", "--out", "micro.h5"], env, d))
        ref = os.path.join(d, "two.h5")
        (m2, _, _) = parse(run(mpirun + [exe] + ARGS + ["--out", ref], env, d))
        print("per-rank BN epoch 1 child train_loss: 2 ranks %s, 1 process --micro 2 %s" %
              (m2[:1], m1[:1]))
        if not (m1 and m2 and close(m2[0], m1[0])):
            fails += 1
        # 3. per-rank batch norm: killed after the first epoch, resumed by 2 ranks
        dead = os.path.join(d, "dead.h5")
        f, at = res.run_and_kill(mpirun + [exe] + ARGS + ["--checkpoint_every_min", "1e-9",
                                                          "--out", dead],
                                 env, d, dead, 2, STEPS)
        fails += f
        print("the 2-rank macro run left its checkpoint at step %s of %d" % (at, EPOCHS * STEPS))
        if at is None or not 0 < at < EPOCHS * STEPS:
            print("FAIL: no checkpoint inside the run to resume from")
            fails += 1
        else:
            run(mpirun + [exe, "search", "--resume", dead, "--threads", "1"], env, d)
            res.EPOCHS = EPOCHS
            fails += res.compare("per-rank BN, killed, resumed by 2 ranks", res.record(ref),
                                 res.record(dead), exact=True)
    print("test_dp_enas_macro: %d failed" % fails)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
