#!/usr/bin/python3
"""peer_darts: the DARTS step, ours (bench_darts) against PyTorch (peer_darts_torch.py), issue 14.

For every config, every round runs ours and then PyTorch, each in its own process at the same
threads, alternating so that a shared machine's load falls on both alike. Prints per config the
median s/step over rounds (each round's figure is that process's p50), the ratio PyTorch/ours,
both peak RSS figures (the child's ru_maxrss from wait4) and the 1-minute load average seen
at the start of each run (min-max).

usage: /usr/bin/python3 bench/peer_darts.py BUILD/bench/bench_darts [--rounds 3 --repeat 2
       --warmup 1 --threads 2 --configs 5c1,5c2,8c32o1,... --side both|ours|torch]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (label, flags common to both sides)
CONFIGS = [
    ('5c1', '5 cells, C=8, batch 32 | first', ['--layers', '5', '--channels', '8', '--batch', '32', '--order', '1']),
    ('5c2', '5 cells, C=8, batch 32 | second', ['--layers', '5', '--channels', '8', '--batch', '32', '--order', '2']),
    ('8c32o1', '8 cells, C=16, batch 32 | first', ['--layers', '8', '--channels', '16', '--batch', '32', '--order', '1']),
    ('8c32o2', '8 cells, C=16, batch 32 | second', ['--layers', '8', '--channels', '16', '--batch', '32', '--order', '2']),
    ('8c64o1', '8 cells, C=16, batch 64 | first', ['--layers', '8', '--channels', '16', '--batch', '64', '--order', '1']),
    ('8c64o2', '8 cells, C=16, batch 64 | second', ['--layers', '8', '--channels', '16', '--batch', '64', '--order', '2']),
    ('v2', 'DARTS_V2 final, 20 cells, C=36, batch 96 | -', ['--layers', '20', '--channels', '36', '--batch', '96', '--final', 'DARTS_V2']),
]


def run(cmd, env):
    """Runs cmd; returns (p50 seconds, peak RSS bytes, load at start, output, p50 CPU seconds)."""
    load = os.getloadavg()[0]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    out = p.stdout.read().decode(errors='replace')
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    m = re.search(r'step_s p50 ([0-9.]+)', out)
    if p.returncode != 0 or not m:
        sys.stderr.write(f"peer_darts: {' '.join(cmd)} failed (exit {p.returncode}):\n{out}\n")
        return None, ru.ru_maxrss * 1024, load, out, None
    c = re.search(r'cpu_s p50 ([0-9.]+)', out)
    return float(m.group(1)), ru.ru_maxrss * 1024, load, out, float(c.group(1)) if c else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('bench_darts')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--repeat', type=int, default=2)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--configs', default=','.join(c[0] for c in CONFIGS))
    ap.add_argument('--side', default='both', choices=['both', 'ours', 'torch'])
    a = ap.parse_args()
    want = a.configs.split(',')
    cfgs = [c for c in CONFIGS if c[0] in want]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OMP_WAIT_POLICY='PASSIVE')
    common = ['--repeat', str(a.repeat), '--warmup', str(a.warmup), '--threads', str(a.threads)]
    sides = {'ours': lambda f: [a.bench_darts] + f + common,
             'torch': lambda f: ['/usr/bin/python3', os.path.join(HERE, 'peer_darts_torch.py')] + f + common}
    use = ['ours', 'torch'] if a.side == 'both' else [a.side]
    res = {c[0]: {s: {'t': [], 'rss': [], 'load': [], 'cpu': []} for s in use} for c in cfgs}
    for r in range(a.rounds):
        for name, label, flags in cfgs:
            for side in use:
                t, rss, load, _, cpu = run(sides[side](flags), env)
                d = res[name][side]
                if t is not None:
                    d['t'].append(t)
                if cpu is not None:
                    d['cpu'].append(cpu)
                d['rss'].append(rss)
                d['load'].append(load)
                print(f"# round {r + 1} {name} {side}: {t} s/step, peak RSS {rss / 1e9:.2f} GB, "
                      f"CPU {cpu} s/step, load {load:.2f}", flush=True)
    print(f"\n{a.rounds} rounds, {a.threads} threads, s/step = median over rounds of each "
          f"process's p50 ({a.warmup} warm-up + {a.repeat} timed steps); ratio = PyTorch / ours\n")
    # CPU s/step: the process's CPU seconds (both threads) per step, median over rounds; with
    # OMP_WAIT_POLICY=PASSIVE a waiting thread sleeps, so it is the work done and moves less
    # with a shared machine's load than the wall time
    print('| supernet | order | ours s/step | PyTorch s/step | ratio | ours CPU s/step | '
          'PyTorch CPU s/step | CPU ratio | ours peak RSS | PyTorch peak RSS | load |')
    print('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|')

    def med(d, k):
        return statistics.median(d[k]) if d and d[k] else float('nan')
    for name, label, _ in cfgs:
        o, t = res[name].get('ours'), res[name].get('torch')
        to, tt = med(o, 't'), med(t, 't')
        loads = sum((res[name][s]['load'] for s in use), [])
        co, ct = med(o, 'cpu'), med(t, 'cpu')
        print(f"| {label} | {to:.2f} | {tt:.2f} | {tt / to:.2f}x | {co:.2f} | {ct:.2f} | {ct / co:.2f}x | "
              f"{med(o, 'rss') / 1e9:.2f} GB | "
              f"{med(t, 'rss') / 1e9:.2f} GB | {min(loads):.1f}-{max(loads):.1f} |")


if __name__ == '__main__':
    main()
