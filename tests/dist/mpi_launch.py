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


def fmnist_group(test, n=2):
    """What the data-parallel CLI tests need before they start: h5py, the Fashion-MNIST package
    and mpirun; exits 77 (skipped, naming the test and the missing piece) without one of them.
    Returns (argv prefix for n ranks, environment with OMP_NUM_THREADS=1)."""
    def skip(why):
        print("%s: skipped: %s" % (test, why))
        sys.exit(77)
    try:
        import h5py  # noqa: F401
    except ImportError:
        skip("no h5py")
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        skip("no Fashion-MNIST package")
    launch = mpirun_cmd(n)
    if launch is None:
        skip("no mpirun")
    cmd, env = launch
    env["OMP_NUM_THREADS"] = "1"
    return cmd, env

def rank_pid(rank, cwd):
    """The pid of the gpuhours process of MPI rank `rank` running in cwd (this test's own
    directory: other gpuhours processes may run on the machine), or None."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
            if not argv0.endswith(b"gpuhours") or os.readlink("/proc/%s/cwd" % pid) != cwd:
                continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if ("OMPI_COMM_WORLD_RANK=%d" % rank).encode() in env:
            return int(pid)
    return None


def kill_one(cmd, env, cwd, path, ranks, ready, test, what="rank 1"):
    """Starts cmd in cwd (writing the results file path) and kills one process once ready() is
    true: rank 1 of 2 (the group must then end within 30 s with a message naming "rank 1"), or
    the only one. The results file must open with h5py afterwards. Exits the test (`test`
    names it) when the run ends or stalls before ready() or hangs after the kill; returns the
    number of failed checks."""
    import signal
    import time
    fails = 0
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    victim, t0 = None, time.time()
    while time.time() - t0 < 120 and p.poll() is None:
        if ready():
            victim = rank_pid(1, cwd) if ranks == 2 else p.pid
            break
        time.sleep(0.002)
    if victim is None:
        os.killpg(p.pid, signal.SIGKILL)
        print(p.communicate()[0][-2000:])
        sys.exit("%s: FAIL: the %d-rank run ended or stalled before the kill" % (test, ranks))
    os.kill(victim, signal.SIGKILL)
    t_kill = time.time()
    try:
        out, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        sys.exit("%s: FAIL: the group hangs after rank 1 died" % test)
    waited = time.time() - t_kill
    if ranks == 2:
        named = "rank 1" in out
        print("killed %s: the group ended in %.1f s, exit %d, message names it: %s" %
              (what, waited, p.returncode, named))
        if p.returncode == 0 or not named or waited > 30:
            print(out[-2000:])
            fails += 1
    import h5py
    try:
        with h5py.File(path, "r") as f:
            print("after the kill %s opens with h5py: status %s, %d epoch rows" %
                  (os.path.basename(path), dict(f.attrs).get("status"), len(f["epochs"])))
    except OSError as e:
        print("FAIL: the file does not open:", e)
        fails += 1
    return fails

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
