#!/usr/bin/python3
"""test_bench_precision: bench_kernels --precision (issue 15) and the CSV's precision column.

The CPU path is FP32 only: tf32/bf16 without --gpu are refused (exit 2, a message naming
--precision and --gpu, no CSV created); bad lists are refused naming the bad entry; a CPU run
writes the precision column (fp32 on every row); --gpu at fp32 and at tf32 behaves as before on
a machine without a GPU (gpu: SKIPPED, exit 0), and where a GPU is visible prints the table of
each precision asked for. compare_kernels.py joins the nine-column CSV with an eight-column
peer (counted fp32) and selects rows by --precision.

usage: test_bench_precision.py BENCH_KERNELS COMPARE_KERNELS_PY
"""
import os
import subprocess
import sys
import tempfile

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(*args):
    p = subprocess.run([BENCH, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def refused(args, needle, what):
    rc, out, err = run(*args)
    check(rc == 2 and needle in err and "== CPU" not in out,
          f"{what}: exit 2 naming '{needle}' before any table (rc={rc}, stderr={err.strip()!r})")


def main():
    tmp = tempfile.mkdtemp(prefix="bench_prec_")
    csv_path = os.path.join(tmp, "refused.csv")
    for prec in ("tf32", "bf16", "fp32,tf32"):
        refused(["--cpu", "--quick", "--filter", "relu", "--precision", prec, "--csv", csv_path],
                "--gpu", f"--cpu --precision {prec}")
        check(not os.path.exists(csv_path), f"--cpu --precision {prec}: no CSV written")
    refused(["--quick", "--filter", "relu", "--precision", "tf32"], "FP32 only",
            "default (CPU) --precision tf32")
    refused(["--precision", "fp16", "--gpu"], "'fp16'", "--precision fp16")
    refused(["--precision", "tf32,tf32", "--gpu"], "listed twice", "--precision tf32,tf32")
    refused(["--precision", ",", "--gpu"], "empty", "--precision ,")

    rc, out, _ = run("--help")
    check(rc == 0 and "--precision LIST" in out and "precision\n" in out,
          "--help documents --precision and the CSV's precision column")

    # a CPU run: every row fp32
    cpu_csv = os.path.join(tmp, "cpu.csv")
    rc, out, err = run("--cpu", "--quick", "--repeats", "2", "--max-op-s", "0.2", "--filter",
                       "relu", "--precision", "fp32", "--csv", cpu_csv)
    check(rc == 0, f"--cpu --precision fp32 runs (rc={rc} {err.strip()!r})")
    rows = []
    if os.path.exists(cpu_csv):
        lines = [l.rstrip("\n") for l in open(cpu_csv) if not l.startswith("#")]
        check(lines and lines[0] == "op,shape,backend,median_ms,p10_ms,p90_ms,gflops,gbps,"
              "precision", f"CSV header with the precision column: {lines[:1]}")
        rows = [l.split(",") for l in lines[1:] if l]
    check(len(rows) == 6 and all(r[2] == "cpu" and r[8] == "fp32" for r in rows),
          f"6 relu rows (3 shapes x 2 passes), backend cpu, precision fp32: {len(rows)} rows")
    check("precision=fp32" in out, "the config echo names the precision")

    # the list runs fp32 first, so the precision-independent ops land in the FP32 table
    rc, out, _ = run("--gpu", "--quick", "--filter", "relu", "--precision", "bf16,fp32")
    check(rc == 0 and "precision=fp32,bf16" in out, "--precision bf16,fp32 runs as fp32,bf16")

    # --gpu at fp32 (as before) and at tf32: SKIPPED without a GPU, the tables with one
    for prec, op in (("fp32", "relu"), ("tf32", "conv1x1"), ("fp32,bf16", "conv1x1")):
        rc, out, err = run("--gpu", "--quick", "--filter", op, "--precision", prec)
        if "gpu: SKIPPED" in out:
            check(rc == 0 and "== CPU" not in out,
                  f"--gpu --precision {prec} without a GPU: SKIPPED, exit 0, no CPU table")
        else:
            heads = [f"-- {p}: ours at {p}" for p in prec.split(",")]
            check(rc == 0 and all(h in out for h in heads),
                  f"--gpu --precision {prec}: a table per precision (rc={rc} {err.strip()!r})")
            if op == "conv1x1":
                check("conv geomean ratio ours/cuDNN" in out,
                      f"--gpu --precision {prec}: the conv geomean line")

    # compare_kernels.py: nine columns beside eight, rows chosen by --precision
    ours = os.path.join(tmp, "ours.csv")
    peer = os.path.join(tmp, "peer.csv")
    with open(ours, "w") as f:
        f.write("op,shape,backend,median_ms,p10_ms,p90_ms,gflops,gbps,precision\n"
                "conv1x1.fwd,64x16x32x32,cuda,2.0,2,2,1,1,fp32\n"
                "conv1x1.fwd,64x16x32x32,cudnn,4.0,4,4,1,1,fp32\n"
                "conv1x1.fwd,64x16x32x32,cuda,1.0,1,1,1,1,tf32\n"
                "conv1x1.fwd,64x16x32x32,cudnn,5.0,5,5,1,1,tf32\n")
    with open(peer, "w") as f:
        f.write("op,shape,backend,median_ms,p10_ms,p90_ms,gflops,gbps\n"
                "conv1x1.fwd,64x16x32x32,torch,8.0,8,8,1,1\n")
    for args, want in ((["--theirs-backend", "cudnn", "--ours-backend", "cuda"], "0.500"),
                       (["--theirs-backend", "cudnn", "--ours-backend", "cuda", "--precision",
                         "tf32"], "0.200")):
        p = subprocess.run([sys.executable, COMPARE, ours, ours, *args], capture_output=True,
                           text=True)
        check(p.returncode == 0 and f"geomean {want}" in p.stdout,
              f"compare_kernels {' '.join(args)}: geomean {want}")
    p = subprocess.run([sys.executable, COMPARE, ours, peer, "--ours-backend", "cuda"],
                       capture_output=True, text=True)
    check(p.returncode == 0 and "geomean 0.250" in p.stdout,
          "compare_kernels: nine-column ours against an eight-column peer (fp32)")

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    BENCH, COMPARE = sys.argv[1], sys.argv[2]
    sys.exit(main())
