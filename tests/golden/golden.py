#!/usr/bin/python3
"""golden: fixed-seed runs through the gpuhours binary whose numbers must not change when code
is restructured (the trainer and registry refactor: "results do not change").

Each run's fingerprint is read back from what it leaves: every epoch row of its HDF5 file
(train/val loss and accuracy, exact doubles) and its final genotype, or for the small CNN the
test loss printed as a hex float. The expected values were recorded before the refactor.

Bit-identical is asserted when the build and CPU match the recording's signature (OpenBLAS
core, -march=native or not, build type: a Debug build rounds some sums differently); elsewhere
OpenBLAS and the compiler may round differently, so the numbers are compared to a relative 2e-3
and the genotypes are not compared (both reported).

usage: golden.py GPUHOURS --check FILE|--record FILE [--native 0|1] [--build TYPE]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import h5py

COMMON = ["--threads", "2", "--backend", "cpu", "--seed", "3"]
SEARCH = ["--dataset", "fashion-mnist", "--search_limit", "96", "--search_layers", "3",
          "--search_channels", "4", "--search_batch", "16", "--search_val_limit", "48",
          "--report_every", "100", "--deterministic", "1"]
RUNS = {
    "darts1": ["search", "darts", "--order", "1", "--search_epochs", "2"] + SEARCH,
    "darts2": ["search", "darts", "--order", "2", "--search_epochs", "2"] + SEARCH,
    "randomws": ["search", "random-ws", "--search_epochs", "2", "--random_archs", "3"] + SEARCH,
    "random": ["search", "random", "--random_archs", "2", "--random_epochs", "1"] + SEARCH,
    "final": ["train", "--genotype", "DARTS_V2", "--dataset", "fashion-mnist",
              "--final_layers", "3", "--final_channels", "4", "--final_epochs", "2",
              "--final_limit", "96", "--test_limit", "48", "--final_batch", "32",
              "--report_every", "100", "--deterministic", "1"],
    "cnn": ["train", "--max-train", "512", "--epochs", "1", "--batch", "64", "--deterministic"],
}
EPOCH_FIELDS = ["train_loss", "train_acc", "val_loss", "val_acc"]


def run(exe, name, args, tmp):
    out = os.path.join(tmp, name + ".h5")
    cmd = [exe] + args + COMMON + ([] if name == "cnn" else ["--out", out])
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit("golden: %s failed (exit %d):\n%s\n%s" % (name, p.returncode, " ".join(cmd),
                                                          p.stdout[-3000:]))
    fp = []
    if name == "cnn":
        m = re.search(r"^test loss (\S+)$", p.stdout, re.M)
        if not m:
            sys.exit("golden: cnn printed no 'test loss' line:\n" + p.stdout[-2000:])
        fp.append(("test_loss", float.fromhex(m.group(1))))
        return fp
    with h5py.File(out, "r") as f:
        ep = f["epochs"][:]
        for i, row in enumerate(ep):
            for k in EPOCH_FIELDS:
                fp.append(("epoch%d.%s" % (i, k), float(row[k])))
        tr = f["trials"][:]
        for i, row in enumerate(tr):
            for k in ("val_acc", "test_acc", "train_loss", "val_loss", "test_loss"):
                fp.append(("trial%d.%s" % (i, k), float(row[k])))
        art = f["artifacts"][:]
        for r in art[art["name"] == b"genotype"][-1:]:
            text = bytes(f["artifact_text"][r["offset"]:r["offset"] + r["length"]]).decode()
            fp.append(("genotype", text.replace(" ", "")))
    return fp


def signature(exe, native, build):
    p = subprocess.run([exe, "info"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    m = re.search(r"; core (\S+)", p.stdout)
    return "openblas=%s native=%s build=%s" % (m.group(1) if m else "?", native, build)


def fmt(v):
    return v.hex() if isinstance(v, float) else v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--check")
    g.add_argument("--record")
    ap.add_argument("--native", default="0")
    ap.add_argument("--build", default="Release")
    a = ap.parse_args()
    sig = signature(a.exe, a.native, a.build)
    got = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in RUNS.items():
            for k, v in run(a.exe, name, args, tmp):
                got[(name, k)] = v
    if a.record:
        with open(a.record, "w") as f:
            f.write("# written by tests/golden/golden.py --record; run key value (hex floats)\n")
            f.write("signature %s\n" % sig)
            for (name, k), v in got.items():
                f.write("%s %s %s\n" % (name, k, fmt(v)))
        print("golden: recorded %d values (%s)" % (len(got), sig))
        return 0
    want, want_sig = {}, None
    with open(a.check) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            if line.startswith("signature "):
                want_sig = line.split(" ", 1)[1].strip()
                continue
            name, k, v = line.rstrip("\n").split(" ", 2)
            want[(name, k)] = v if k == "genotype" else float.fromhex(v)
    exact = want_sig == sig
    print("golden: %s comparison (recorded on %s, this build %s)" %
          ("bit-identical" if exact else "relative 2e-3", want_sig, sig))
    bad = 0
    for key in sorted(want):
        w, v = want[key], got.get(key)
        if v is None:
            print("FAILED %s %s: missing from this run" % key)
            bad += 1
            continue
        if isinstance(w, str):
            ok = (w == v) or not exact
        elif w != w:  # NaN recorded: still NaN
            ok = v != v
        else:
            ok = (v == w) if exact else abs(v - w) <= 2e-3 * max(abs(w), 1e-3)
        print("  %s %s %s: %s %s" % ("ok  " if ok else "FAILED", key[0], key[1],
                                    fmt(v) if isinstance(v, float) else "(text)",
                                    "" if ok else "expected %s" % fmt(w)))
        bad += not ok
    extra = [k for k in got if k not in want]
    for k in extra:
        print("FAILED %s %s: not in the recording" % k)
    bad += len(extra)
    print("golden: %d passed, %d failed" % (len(want) - bad + len(extra), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
