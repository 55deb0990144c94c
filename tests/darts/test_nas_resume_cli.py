#!/usr/bin/python3
"""test_nas_resume_cli: `--resume FILE` through the gpuhours binary, on a few Fashion-MNIST images.

A DARTS search (first order; tests/darts/test_nas_resume.c covers second order and the exact
kill points) and a final training over two seeds are SIGKILLed once their first checkpoints exist,
and a reproduction once its final training has begun; resumed with `gpuhours search --resume`,
`gpuhours train --genotype G --resume` and `gpuhours reproduce --resume`, their epoch and trial rows and the genotype must equal those of an uninterrupted run of the same seed,
bit for bit, and a finished run keeps no checkpoint. Refusals exit non-zero with a message naming
the problem and leave FILE (and its checkpoint) byte-identical: a file that is not a run, a
truncated run, a tune run, a missing file, a finished run, a run of another method or of another
command, another genotype, a flag besides --resume and --threads, and reproduce's NAME.

usage: test_nas_resume_cli.py GPUHOURS TUNE_DATA.arff
"""
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time

import h5py

COMMON = ["--threads", "2", "--backend", "cpu", "--seed", "3", "--dataset", "fashion-mnist",
          "--report_every", "100", "--deterministic", "1"]
SEARCH = ["search", "darts", "--order", "1", "--search_epochs", "3", "--search_limit", "64",
          "--search_layers", "3", "--search_channels", "4", "--search_batch", "16",
          "--search_val_limit", "32"] + COMMON
FINAL = ["train", "--genotype", "DARTS_V2", "--final_layers", "3", "--final_channels", "4",
         "--final_epochs", "2", "--final_limit", "96", "--test_limit", "48", "--final_batch",
         "16", "--seeds", "0,1", "--auxiliary", "0"] + COMMON
REPRODUCE = ["reproduce", "darts-fashion-mnist-smoke", "--search_limit", "64",
             "--search_val_limit", "32", "--search_layers", "3", "--search_epochs", "2",
             "--final_layers", "3", "--final_channels", "4", "--final_epochs", "2",
             "--final_limit", "96", "--test_limit", "48", "--final_batch", "16", "--seeds", "0,1",
             "--auxiliary", "0"] + COMMON
FAILED = []


def check(cond, what):
    print(("  ok   " if cond else "FAILED ") + what)
    if not cond:
        FAILED.append(what)


def run(exe, args, cwd):
    return subprocess.run([exe] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=600)


def digest(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def rows(path):
    """What a resumed run must reproduce: epoch rows, trial rows, artifact names and texts."""
    with h5py.File(path, "r") as f:
        ep = [(r["phase"], r["trial_id"], r["epoch"], r["train_loss"].hex(), r["train_acc"].hex(),
               r["val_loss"].hex(), r["val_acc"].hex(), r["lr"].hex()) for r in f["epochs"][:]]
        tr = [(r["id"], r["arch"], r["val_acc"].hex(), r["test_acc"].hex(),
               r["train_loss"].hex(), r["test_loss"].hex(), r["status"]) for r in f["trials"][:]]
        text = f["artifact_text"]
        art = [(r["name"], bytes(text[r["offset"]:r["offset"] + r["length"]])
                if r["kind"] == b"text" else None) for r in f["artifacts"][:]]
        return ep, tr, art, len(f["phase_costs"]), len(f["sessions"]), f.attrs["status"]


def ckpt_phase(path):
    """The phase of a checkpoint (blob nas/run: 1 search, 2 final training); 0 while unreadable."""
    try:
        with h5py.File(path, "r") as f:
            return int.from_bytes(bytes(f["blobs/nas/run"][16:20]), "little")
    except (OSError, KeyError):
        return 0


def kill_after_checkpoint(exe, args, cwd, out, phase=None):
    """Starts a run with a checkpoint after every step and SIGKILLs it once its first checkpoint
    (of `phase` when given) exists; returns True when it was killed (not finished) with a
    checkpoint beside it."""
    for attempt in range(3):
        for p in (out, out + ".ckpt"):
            if os.path.exists(os.path.join(cwd, p)):
                os.unlink(os.path.join(cwd, p))
        proc = subprocess.Popen([exe] + args + ["--out", out, "--checkpoint_every_min", "1e-9"],
                                cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ckpt = os.path.join(cwd, out + ".ckpt")
        while proc.poll() is None and not (os.path.exists(ckpt) and
                                           (phase is None or ckpt_phase(ckpt) == phase)):
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return os.path.exists(ckpt)
        print("  (attempt %d: the run finished before it could be killed; again)" % attempt)
    return False


def refused(exe, args, cwd, files, want, label, code=None):
    before = [digest(os.path.join(cwd, f)) for f in files]
    p = run(exe, args, cwd)
    after = [digest(os.path.join(cwd, f)) for f in files]
    msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
    ok = p.returncode != 0 and (code is None or p.returncode == code) and want in msg
    check(ok and before == after,
          "%s: exit %d, message %r names %r, files unchanged: %s" %
          (label, p.returncode, msg, want, before == after))


def resume_case(exe, tmp, args, name, resume_args, refusals, phase=None):
    """Uninterrupted and killed runs of args; the refusals (args, message, label, exit code)
    are tried on the killed run before it is resumed."""
    ref, out = name + "_ref.h5", name + ".h5"
    p = run(exe, args + ["--out", ref], tmp)
    check(p.returncode == 0, "%s: uninterrupted run (exit %d) %s" % (name, p.returncode,
                                                                        p.stderr[-500:]))
    check(not os.path.exists(os.path.join(tmp, ref + ".ckpt")),
          "%s: a finished run keeps no checkpoint" % name)
    killed = kill_after_checkpoint(exe, args, tmp, out, phase)
    check(killed, "%s: killed with a checkpoint beside it" % name)
    if not killed:
        return ref, out
    with h5py.File(os.path.join(tmp, out), "r") as f:
        check(f.attrs["status"] == b"running", "%s: the killed run says running" % name)
    for r_args, want, label, code in refusals:
        refused(exe, r_args + ["--resume", out], tmp, [out, out + ".ckpt"], want,
                "%s: %s" % (name, label), code)
    p = run(exe, resume_args + ["--resume", out, "--threads", "2"], tmp)
    check(p.returncode == 0, "%s: resumed (exit %d) %s" % (name, p.returncode, p.stderr[-800:]))
    want, got = rows(os.path.join(tmp, ref)), rows(os.path.join(tmp, out))
    check(want[0] == got[0], "%s: %d epoch rows equal the uninterrupted run's" % (name,
                                                                               len(want[0])))
    check(want[1] == got[1], "%s: %d trial rows equal" % (name, len(want[1])))
    check(want[2] == got[2], "%s: %d artifacts (genotype texts) equal" % (name, len(want[2])))
    check(want[3] == got[3], "%s: %d phase-cost rows" % (name, want[3]))
    check(got[4] == 2 and got[5] == b"finished", "%s: two sessions, finished" % name)
    check(not os.path.exists(os.path.join(tmp, out + ".ckpt")),
          "%s: its checkpoint went when it finished" % name)
    return ref, out


def main():
    exe, arff = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        # a killed search: refusals that leave it as it is, then the resume
        ref, _ = resume_case(exe, tmp, SEARCH, "search", ["search", "darts"], [
            (["search", "darts", "--seed", "4"], "'--seed'", "another flag", 2),
            (["search", "random-ws"], "not random-ws", "another method", None),
            (["reproduce"], "gpuhours search", "another command", None)])
        # final training over two seeds
        _, fin = resume_case(exe, tmp, FINAL, "final", ["train", "--genotype", "DARTS_V2"], [
            (["train", "--genotype", "DARTS_V1"], "DARTS_V2", "another genotype", 2),
            (["search", "darts"], "gpuhours train --genotype", "another command", None)])
        # a reproduction killed in its final training: the search is not run again
        resume_case(exe, tmp, REPRODUCE, "reproduce", ["reproduce"], [
            (["reproduce", "darts-fashion-mnist-smoke"], "'darts-fashion-mnist-smoke'",
             "a NAME", 2),
            (["train", "--genotype", "DARTS_V2"], "gpuhours reproduce", "another command", 2)],
            phase=2)
        # files that are not resumable runs
        with open(os.path.join(tmp, "notes.txt"), "w") as f:
            f.write("not a run\n")
        refused(exe, ["search", "darts", "--resume", "notes.txt"], tmp, ["notes.txt"],
                "not an HDF5 file", "not a run")
        with open(os.path.join(tmp, ref), "rb") as f:
            head = f.read(os.path.getsize(os.path.join(tmp, ref)) // 2)
        with open(os.path.join(tmp, "truncated.h5"), "wb") as f:
            f.write(head)
        refused(exe, ["search", "darts", "--resume", "truncated.h5"], tmp, ["truncated.h5"],
                "truncated", "a truncated run")
        p = run(exe, ["tune", arff, "--budget", "1", "--out", "tune.h5", "-q"], tmp)
        check(p.returncode == 0, "a tune run to resume wrongly (exit %d)" % p.returncode)
        refused(exe, ["search", "darts", "--resume", "tune.h5"], tmp, ["tune.h5"],
                "not of a NAS command", "a tune run")
        refused(exe, ["search", "darts", "--resume", "missing.h5"], tmp, ["missing.h5"],
                "cannot open", "a missing file")
        refused(exe, ["search", "darts", "--resume", ref], tmp, [ref], "finished",
                "a finished run")
        refused(exe, ["train", "--genotype", "DARTS_V1", "--resume", fin], tmp, [fin],
                "finished", "a finished final training")
        check(not os.path.exists(os.path.join(tmp, "missing.h5")), "no file made by a refusal")
        print("test_nas_resume_cli: %.1f s" % (time.time() - t0))
    print("test_nas_resume_cli: %d failed" % len(FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
