#!/usr/bin/env python3
"""compare_kernels: joins two kernel-benchmark CSVs (bench_kernels and peer_torch_kernels, or
one GPU CSV with itself) on (op, shape) and prints each op's ours/theirs median-time ratio,
the geometric means, and whether the CPU targets are met.

    compare_kernels.py OURS.csv THEIRS.csv [--ours-backend cpu] [--theirs-backend torch]
                       [--precision fp32]

bench_kernels writes a ninth column, precision (fp32, tf32, bf16: the GPU table's math);
peer_torch_kernels's CSVs have eight columns and count as fp32. Rows of other precisions
than --precision are left out, so one GPU CSV compares at TF32 as
    compare_kernels.py gpu.csv gpu.csv --ours-backend cuda --theirs-backend cudnn --precision tf32

OURS and THEIRS may each be a comma-separated list of CSVs from repeated rounds (run ours and
theirs alternately): each (op, shape) then takes the lowest of its rounds' medians, which
discounts bursts from other processes on a shared machine and treats both sides alike.

Targets (benchmark, not test), judged on the fwdbwd rows (an op's cost in a training step):
no op slower than the peer (ratio <= 1) and the geometric mean faster (< 1). The fwd rows are
shown and summarised too. Exit status 0 whatever the verdict; 2 on unreadable input.
"""
import argparse
import csv
import math
import sys

COLUMNS = ["op", "shape", "backend", "median_ms", "p10_ms", "p90_ms", "gflops", "gbps"]
PRECISIONS = ("fp32", "tf32", "bf16")


def read_csv(path, backend, precision="fp32"):
    """Rows of one backend and precision keyed by (op, shape), and the '# ' header lines
    (provenance). A CSV without the precision column holds fp32 rows only."""
    rows, header = {}, []
    try:
        with open(path, newline="") as f:
            lines = []
            for lineno, line in enumerate(f, 1):
                if line.startswith("#"):
                    header.append(line[1:].strip())
                elif line.strip():
                    lines.append((lineno, line))
    except OSError as e:
        sys.exit(f"compare_kernels: cannot read {path}: {e.strerror}")
    head = next(csv.reader([lines[0][1]])) if lines else None
    if head not in (COLUMNS, COLUMNS + ["precision"]):
        sys.exit(f"compare_kernels: {path}: expected the header line {','.join(COLUMNS)} "
                 f"(optionally followed by ,precision)")
    for lineno, line in lines[1:]:
        fields = next(csv.reader([line]))
        if len(fields) != len(head):
            sys.exit(f"compare_kernels: {path}:{lineno}: expected {len(head)} fields, "
                     f"found {len(fields)}")
        rec = dict(zip(head, fields))
        rec.setdefault("precision", "fp32")
        if rec["precision"] not in PRECISIONS:
            sys.exit(f"compare_kernels: {path}:{lineno}: precision '{rec['precision']}': "
                     f"expected one of {', '.join(PRECISIONS)}")
        if rec["backend"] != backend or rec["precision"] != precision:
            continue
        try:
            rec["median_ms"] = float(rec["median_ms"])
        except ValueError:
            sys.exit(f"compare_kernels: {path}:{lineno}: median_ms is not a number: "
                     f"'{rec['median_ms']}'")
        rows[(rec["op"], rec["shape"])] = rec
    return rows, header


def read_rounds(paths, backend, precision="fp32"):
    """Each (op, shape) with the lowest median over the rounds' CSVs; the first header."""
    best, first = {}, None
    for path in paths.split(","):
        rows, header = read_csv(path, backend, precision)
        first = header if first is None else first
        for k, rec in rows.items():
            if k not in best or rec["median_ms"] < best[k]["median_ms"]:
                best[k] = rec
    return best, first


def threads_of(header):
    for h in header:
        if h.startswith("config:"):
            for tok in h.split():
                if tok.startswith("threads="):
                    return tok.split("=", 1)[1]
    return "?"


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def print_markdown(ours, theirs, keys):
    """One row per (op, shape): ours, theirs and the ratio for fwd and for fwdbwd."""
    print("\n| op | shape | fwd ours ms | fwd torch ms | fwd ratio | fwdbwd ours ms "
          "| fwdbwd torch ms | fwdbwd ratio |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    seen = []
    for op, shape in keys:
        base = op.rsplit(".", 1)[0]
        if (base, shape) not in seen:
            seen.append((base, shape))
    for base, shape in seen:
        cells = []
        for p in ("fwd", "fwdbwd"):
            k = (f"{base}.{p}", shape)
            if k in ours and k in theirs:
                a, b = ours[k]["median_ms"], theirs[k]["median_ms"]
                cells += [f"{a:.3f}", f"{b:.3f}", f"**{a / b:.2f}**" if a > b else f"{a / b:.2f}"]
            else:
                cells += ["-", "-", "-"]
        print(f"| {base} | {shape} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ours")
    ap.add_argument("theirs")
    ap.add_argument("--ours-backend", default="cpu", help="backend column of ours (cpu)")
    ap.add_argument("--theirs-backend", default="torch", help="backend column of theirs (torch)")
    ap.add_argument("--precision", default="fp32", choices=PRECISIONS,
                    help="rows of this precision column (fp32; a CSV without it is fp32)")
    ap.add_argument("--markdown", action="store_true",
                    help="also print a Markdown table, one line per (op, shape), both passes")
    args = ap.parse_args()
    ours, h_ours = read_rounds(args.ours, args.ours_backend, args.precision)
    theirs, h_theirs = read_rounds(args.theirs, args.theirs_backend, args.precision)
    print(f"rounds: ours {len(args.ours.split(','))}, theirs {len(args.theirs.split(','))}; "
          f"precision {args.precision}")
    for tag, h in (("ours", h_ours), ("theirs", h_theirs)):
        for line in h[:1]:
            print(f"{tag}: {line}")
    t_ours, t_theirs = threads_of(h_ours), threads_of(h_theirs)
    print(f"threads: ours {t_ours}, theirs {t_theirs}"
          + ("" if t_ours == t_theirs else "   WARNING: thread counts differ"))

    keys = [k for k in ours if k in theirs]
    missing = [k for k in ours if k not in theirs] + [k for k in theirs if k not in ours]
    if not keys:
        sys.exit(f"compare_kernels: no (op, shape) in common between backend "
                 f"'{args.ours_backend}' of {args.ours} and '{args.theirs_backend}' of "
                 f"{args.theirs} at precision {args.precision}")
    print(f"\n{'op':20} {'shape':14} {args.ours_backend + '_ms':>10} "
          f"{args.theirs_backend + '_ms':>10} {'ratio':>7}")
    ratios = {"fwd": [], "fwdbwd": []}
    slower = {"fwd": [], "fwdbwd": []}
    for k in keys:
        a, b = ours[k]["median_ms"], theirs[k]["median_ms"]
        r = a / b
        passname = k[0].rsplit(".", 1)[-1]
        ratios.setdefault(passname, []).append(r)
        if r > 1.0:
            slower.setdefault(passname, []).append(f"{k[0]} {k[1]} ({r:.2f})")
        mark = "  slower" if r > 1.0 else ""
        print(f"{k[0]:20} {k[1]:14} {a:10.4f} {b:10.4f} {r:7.3f}{mark}")
    for k in missing:
        print(f"{k[0]:20} {k[1]:14}  in one file only")

    if args.markdown:
        print_markdown(ours, theirs, keys)
    print("\nratio = ours / theirs median time (< 1: ours faster)")
    for p in ("fwd", "fwdbwd"):
        if ratios.get(p):
            rs = ratios[p]
            print(f"  {p:7} geomean {geomean(rs):.3f} over {len(rs)} ops; best {min(rs):.3f}, "
                  f"worst {max(rs):.3f}; slower than theirs: {len(slower[p])}")
    allr = [r for p in ratios for r in ratios[p]]
    print(f"  all     geomean {geomean(allr):.3f} over {len(allr)} rows")
    fb = ratios.get("fwdbwd", [])
    if fb:
        sl = slower["fwdbwd"]
        print(f"TARGET no op slower than {args.theirs_backend} (fwdbwd): "
              + ("met" if not sl else f"NOT met ({len(sl)}: {', '.join(sl)})"))
        g = geomean(fb)
        print(f"TARGET geomean faster than {args.theirs_backend} (fwdbwd): {g:.3f} "
              + ("met" if g < 1.0 else "NOT met"))


if __name__ == "__main__":
    main()
