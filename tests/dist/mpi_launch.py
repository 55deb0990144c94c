#!/usr/bin/python3
"""mpi_launch: the mpirun command line for N ranks on this machine, for the tests that run
under MPI (tests/dist, tests/hpo/test_tune_workers.py): Open MPI gets --oversubscribe (ctest's
machines may have fewer cores than ranks) and, as root, the two variables that allow it.
As a program: mpi_launch.py N COMMAND...: runs COMMAND on N ranks; exit 77 (skipped) when
there is no mpirun.

usage: mpi_launch.py N COMMAND [ARGS...]
"""
import os
import shutil
import subprocess
import sys


def mpirun_cmd(n):
    """(argv prefix, environment) to start n ranks; None when there is no mpirun."""
    exe = shutil.which("mpirun") or shutil.which("mpiexec")
    if not exe:
        return None
    env = dict(os.environ)
    flags = []
    p = subprocess.run([exe, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if "Open MPI" in p.stdout or "OpenRTE" in p.stdout:
        flags = ["--oversubscribe"]
        if os.geteuid() == 0:
            env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
            env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    return [exe, "-np", str(n)] + flags, env


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    got = mpirun_cmd(int(sys.argv[1]))
    if got is None:
        print("mpi_launch: no mpirun: skipped")
        sys.exit(77)
    cmd, env = got
    sys.exit(subprocess.run(cmd + sys.argv[2:], env=env, timeout=300).returncode)


if __name__ == "__main__":
    main()
