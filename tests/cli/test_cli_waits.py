#!/usr/bin/python3
"""test_cli_waits: on a busy machine gpuhours makes OpenMP's waiting threads sleep unless the
user chose. Without OMP_WAIT_POLICY and GOMP_SPINCOUNT, at a load average of half a core or more
(GH_LOADAVG stands in for it here) it starts again with OMP_WAIT_POLICY=PASSIVE (libgomp reads
it before main); below that it keeps libgomp's default; a user's OMP_WAIT_POLICY or
GOMP_SPINCOUNT is kept as given, GH_NO_REEXEC=1 keeps libgomp's default; the restarted process
keeps its arguments. `gpuhours info` reports the policy in force, and a run file records it
(attributes omp_wait_policy, omp_spincount).

usage: test_cli_waits.py GPUHOURS DATA.arff
"""
import os
import subprocess
import sys
import tempfile

CLEAN = {k: v for k, v in os.environ.items()
         if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "GH_NO_REEXEC", "GH_LOADAVG")}
DEFAULT = "waits: libgomp default (spin, then sleep)"
CASES = [
    ({"GH_LOADAVG": "3.2"}, "waits: PASSIVE"),
    ({"GH_LOADAVG": "0.5"}, "waits: PASSIVE"),
    ({"GH_LOADAVG": "0.3"}, DEFAULT),
    ({"GH_LOADAVG": "0"}, DEFAULT),
    ({"GH_LOADAVG": "3.2", "OMP_WAIT_POLICY": "ACTIVE"}, "waits: ACTIVE"),
    ({"GH_LOADAVG": "3.2", "OMP_WAIT_POLICY": "passive"}, "waits: passive"),
    ({"GH_LOADAVG": "3.2", "GOMP_SPINCOUNT": "1000"}, DEFAULT + ", GOMP_SPINCOUNT=1000"),
    ({"GH_LOADAVG": "3.2", "GH_NO_REEXEC": "1"}, DEFAULT),
]


def main():
    exe = sys.argv[1]
    fails = 0
    for extra, want in CASES:
        p = subprocess.run([exe, "info"], env=dict(CLEAN, **extra), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        line = next((l for l in p.stdout.splitlines() if "OpenMP" in l), "")
        if p.returncode != 0 or not line.rstrip().endswith(want):
            print(f"FAIL env {extra}: exit {p.returncode}, OpenMP line {line!r}, want ...{want!r}")
            fails += 1
    # the restarted process sees the same arguments: an unknown command is still named
    p = subprocess.run([exe, "no-such-command", "x y"], env=dict(CLEAN, GH_LOADAVG="3"), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    if p.returncode != 2 or "unknown command 'no-such-command'" not in p.stdout:
        print(f"FAIL restarted arguments: exit {p.returncode}, output {p.stdout!r}")
        fails += 1
    # the run file records the policy its process ran with (a 1-second tune)
    try:
        import h5py
    except ImportError:
        h5py = None
        print("no h5py: the run-file attributes are not checked")
    runs = [({"GH_LOADAVG": "3"}, "PASSIVE", "default"),
            ({"GH_LOADAVG": "0", "GOMP_SPINCOUNT": "500"}, "default", "500")]
    for extra, want_wait, want_spin in (runs if h5py else []):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "r.h5")
            p = subprocess.run([exe, "tune", sys.argv[2], "--budget", "1", "-q", "--out", out],
                               env=dict(CLEAN, **extra), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=120)
            got = None
            if p.returncode == 0:
                with h5py.File(out, "r") as f:
                    got = tuple(f.attrs[k].decode() if isinstance(f.attrs[k], bytes)
                                else str(f.attrs[k]) for k in ("omp_wait_policy", "omp_spincount"))
            if got != (want_wait, want_spin):
                print(f"FAIL run file under {extra}: exit {p.returncode}, attributes {got}, "
                      f"want {(want_wait, want_spin)}\n{p.stdout[-1000:]}")
                fails += 1
    print("test_cli_waits:", "FAILED" if fails else f"{len(CASES) + 1 + len(runs)} checks passed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
