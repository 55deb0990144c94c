#!/usr/bin/python3
"""peer_torch_kernels: the PyTorch peer of bench_kernels. Times the same DARTS search-space ops
at the same shapes and thread count on PyTorch's CPU path (forward, and forward+backward
through autograd), and writes the same CSV (op,shape,backend,median_ms,p10_ms,p90_ms,gflops,gbps).

Run with Debian's python3-torch: /usr/bin/python3 bench/peer_torch_kernels.py --threads 2
"""
import argparse
import datetime
import math
import os
import platform
import socket
import subprocess
import sys
import time

N = 64
WSUM_K = 8
F4 = 4.0
PASSES = ("fwd", "fwdbwd")


class Case:
    """One op at one shape: how to build its tensors and run it, and its FLOP and byte counts
    per pass, counted exactly as bench_kernels.c counts them."""

    def __init__(self, name, shape, flops, nbytes, build):
        self.name, self.shape, self.flops, self.bytes, self.build = name, shape, flops, nbytes, build


def conv_case(name, n, c, hw, k, r, stride, pad, dil, groups):
    p = (hw + 2 * pad - dil * (r - 1) - 1) // stride + 1
    x, w, y = n * c * hw * hw, k * (c // groups) * r * r, n * k * p * p
    macs = y * (c // groups) * r * r
    flops = (2 * macs, 2 * macs + 4 * macs)
    fwd = F4 * (x + w + y)
    nbytes = (fwd, fwd + F4 * (x + w + y + 2 * x + 2 * w))

    def build(torch, F):
        xt = rand(torch, n, c, hw, hw)
        wt = rand(torch, k, c // groups, r, r)
        return [xt, wt], lambda: F.conv2d(xt, wt, None, stride, pad, dil, groups)
    return Case(name, f"{n}x{c}x{hw}x{hw}", flops, nbytes, build)


def bn_case(n, c, hw):
    s = n * c * hw * hw
    fwd = F4 * (2 * s + 6 * c)
    nbytes = (fwd, fwd + F4 * (4 * s + 2 * c))

    def build(torch, F):
        xt = rand(torch, n, c, hw, hw)
        rm, rv = torch.zeros(c), torch.ones(c)
        # DARTS search: BatchNorm2d(affine=False), training mode, running stats tracked
        return [xt], lambda: F.batch_norm(xt, rm, rv, None, None, True, 0.1, 1e-5)
    return Case("bn_train", f"{n}x{c}x{hw}x{hw}", (0, 0), nbytes, build)


def relu_case(n, c, hw):
    s = n * c * hw * hw

    def build(torch, F):
        xt = rand(torch, n, c, hw, hw)
        return [xt], lambda: F.relu(xt)
    return Case("relu", f"{n}x{c}x{hw}x{hw}", (0, 0), (F4 * 2 * s, F4 * 6 * s), build)


def pool_case(name, n, c, hw):
    s = n * c * hw * hw
    fwd = F4 * 2 * s
    nbytes = (fwd, fwd + F4 * ((s if name == "maxpool3x3" else 0) + s + 2 * s))

    def build(torch, F):
        xt = rand(torch, n, c, hw, hw)
        if name == "maxpool3x3":
            return [xt], lambda: F.max_pool2d(xt, 3, 1, 1)
        return [xt], lambda: F.avg_pool2d(xt, 3, 1, 1, count_include_pad=False)
    return Case(name, f"{n}x{c}x{hw}x{hw}", (0, 0), nbytes, build)


def wsum_case(n, c, hw):
    s = n * c * hw * hw
    fwd = F4 * (WSUM_K * s + s + WSUM_K)
    nbytes = (fwd, fwd + F4 * (s + WSUM_K * s + 2 * WSUM_K * s + 3 * WSUM_K))

    def build(torch, F):
        xs = [rand(torch, n, c, hw, hw) for _ in range(WSUM_K)]
        wts = rand(torch, WSUM_K)
        # DARTS MixedOp.forward: sum(w * op(x) for w, op in zip(weights, self._ops))
        return xs + [wts], lambda: sum(w * x for w, x in zip(wts, xs))
    return Case("wsum8", f"{n}x{c}x{hw}x{hw}", (0, 0), nbytes, build)


def linear_case(n, i, o):
    x, w, y = n * i, o * i, n * o
    fwd = F4 * (x + w + o + y)
    nbytes = (fwd, fwd + F4 * (x + w + y + 2 * x + 2 * w + 2 * o))

    def build(torch, F):
        xt, wt, bt = rand(torch, n, i), rand(torch, o, i), rand(torch, o)
        return [xt, wt, bt], lambda: F.linear(xt, wt, bt)
    return Case("linear", f"{n}x{i}->{o}", (2 * n * w, 6 * n * w), nbytes, build)


def rand(torch, *shape):
    # uniform in [-1, 1), never zeros; leaf tensors that autograd differentiates
    return (torch.rand(*shape) * 2 - 1).requires_grad_(True)


def build_cases():
    cases = []
    for c, hw in ((16, 32), (32, 16), (64, 8)):
        cases += [
            conv_case("dwconv3x3", N, c, hw, c, 3, 1, 1, 1, c),
            conv_case("dwconv5x5", N, c, hw, c, 5, 1, 2, 1, c),
            conv_case("dilconv3x3", N, c, hw, c, 3, 1, 2, 2, c),
            conv_case("dilconv5x5", N, c, hw, c, 5, 1, 4, 2, c),
            conv_case("conv1x1", N, c, hw, c, 1, 1, 0, 1, 1),
            conv_case("frconv1x1s2", N, c, hw, c // 2, 1, 2, 0, 1, 1),
            bn_case(N, c, hw),
            relu_case(N, c, hw),
            pool_case("maxpool3x3", N, c, hw),
            pool_case("avgpool3x3", N, c, hw),
            wsum_case(N, c, hw),
        ]
    cases.append(conv_case("stemconv3x3", N, 3, 32, 48, 3, 1, 1, 1, 1))
    cases.append(linear_case(N, 256, 10))
    return cases


def make_call(torch, inputs, fwd, passno):
    if passno == 0:
        return fwd
    y0 = fwd()
    dy = torch.rand_like(y0) * 2 - 1

    def fwdbwd():
        # forward then dx and dw through autograd, as one training step does
        return torch.autograd.grad(fwd(), inputs, dy)
    return fwdbwd


def time_case(args, call):
    """Samples of `calls` back-to-back calls (enough for min_sample_ms); per-call ms."""
    t0 = time.perf_counter()
    call()
    one = time.perf_counter() - t0
    calls = max(1, min(100000, math.ceil(args.min_sample_ms * 1e-3 / max(one, 1e-7))))
    # warm-up: the samples asked for, and at least 0.2 s (as bench_kernels.c)
    wend, i = time.perf_counter() + 0.2, 0
    while i < args.warmup or time.perf_counter() < wend:
        for _ in range(calls):
            call()
        i += 1
    samples, start = [], time.perf_counter()
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            call()
        samples.append((time.perf_counter() - t0) * 1e3 / calls)
        if len(samples) >= 5 and time.perf_counter() - start > args.max_op_s:
            break
    return samples


def quantile(v, q):
    # linear interpolation between order statistics, as bench_kernels.c does
    v = sorted(v)
    pos = q * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (pos - lo) * (v[hi] - v[lo])


def provenance(args, torch, prefix):
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "-C", src, "describe", "--always", "--dirty",
                                 "--abbrev=12"], capture_output=True, text=True,
                                timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    utc = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        f"{prefix}peer_torch_kernels commit={commit} host={socket.gethostname()} utc={utc} "
        f"loadavg1={os.getloadavg()[0]:.2f}",
        f"{prefix}argv: {' '.join(sys.argv)}",
        f"{prefix}config: threads={args.threads} (torch sees {torch.get_num_threads()}) "
        f"warmup={args.warmup} repeats={args.repeats} min_sample_ms={args.min_sample_ms} "
        f"max_op_s={args.max_op_s} filter={args.filter or '(all)'}",
        f"{prefix}libs: python={platform.python_version()} torch={torch.__version__} "
        f"mkldnn={torch.backends.mkldnn.is_available()} "
        f"parallel={torch.__config__.parallel_info().splitlines()[-1].strip()}",
    ]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count() or 1,
                    help="torch.set_num_threads (default: nproc)")
    ap.add_argument("-r", "--repeats", type=int, default=30, help="timed samples (default 30)")
    ap.add_argument("-w", "--warmup", type=int, default=3, help="untimed samples (default 3)")
    ap.add_argument("-m", "--min-sample-ms", type=float, default=2.0,
                    help="repeat the op within one sample until it lasts this long (default 2)")
    ap.add_argument("-s", "--max-op-s", type=float, default=3.0,
                    help="stop sampling an op after this long, keeping >= 5 (default 3)")
    ap.add_argument("-q", "--quick", action="store_true",
                    help="10 repeats, 1 warm-up, 1 s per op at most")
    ap.add_argument("-o", "--csv", help="write the CSV here")
    ap.add_argument("-f", "--filter", help="only ops whose name contains this")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.warmup, args.max_op_s = 10, 1, 1.0
    if args.threads < 1 or args.repeats < 1 or args.warmup < 0 or args.min_sample_ms <= 0:
        ap.error("--threads and --repeats must be >= 1, --warmup >= 0, --min-sample-ms > 0")
    return args


def main():
    args = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        sys.exit(f"peer_torch_kernels: cannot import torch ({e}); run with Debian's "
                 "/usr/bin/python3 after `apt-get install python3-torch`")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    header = provenance(args, torch, "")
    print("\n".join(header))
    out = open(args.csv, "w") if args.csv else None
    if out:
        out.write("\n".join("# " + h for h in header) + "\n")
        out.write("op,shape,backend,median_ms,p10_ms,p90_ms,gflops,gbps\n")
    print(f"\n{'op':12} {'pass':7} {'shape':14} {'p50_ms':>9} {'p10_ms':>9} {'p90_ms':>9} "
          f"{'GFLOP/s':>9} {'GB/s':>8}")
    cases = [c for c in build_cases() if not args.filter or args.filter in c.name]
    for case in cases:
        inputs, fwd = case.build(torch, F)
        for p, pname in enumerate(PASSES):
            ms = time_case(args, make_call(torch, inputs, fwd, p))
            p10, p50, p90 = (quantile(ms, q) for q in (0.1, 0.5, 0.9))
            gflops = case.flops[p] / (p50 * 1e-3) * 1e-9 if case.flops[p] else None
            gbps = case.bytes[p] / (p50 * 1e-3) * 1e-9
            gf = f"{gflops:.1f}" if gflops else "-"
            print(f"{case.name:12} {pname:7} {case.shape:14} {p50:9.4f} {p10:9.4f} {p90:9.4f} "
                  f"{gf:>9} {gbps:8.1f}", flush=True)
            if out:
                gfc = f"{gflops:.3f}" if gflops else ""
                out.write(f"{case.name}.{pname},{case.shape},torch,{p50:.6f},{p10:.6f},"
                          f"{p90:.6f},{gfc},{gbps:.3f}\n")
                out.flush()
    if out:
        out.close()


if __name__ == "__main__":
    main()
