#!/usr/bin/env python3
"""test_paper: the paper's numbers, checklist and figures come from the run files.

    test_paper.py GPUHOURS PAPER_MAKE_RUNS SOURCE_DIR

On synthetic runs with known numbers (paper_make_runs): every \\gh{NAME} the paper's text
uses is a macro `gpuhours report --macros` writes; a changed run file changes the macro (and
to the value the runs imply); the smoke-scale flag follows the recorded settings; the
checklist's answers change with the split, the seeds and the budget; `gpuhours plot` writes
every new figure in each format, the Pareto figure with final models only.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

GH, MAKE_RUNS, SRC = sys.argv[1:4]
PUB = os.path.join(SRC, "reproductions", "published.tsv")
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def runs(tmp, name, *opts):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    subprocess.run([MAKE_RUNS, d, *opts], check=True)
    return d


def report(d):
    """(macros dict, if-smoke flag, checklist {dataset: {item: answer}}) of the runs in d."""
    mac = os.path.join(d, "numbers.tex")
    out = subprocess.run([GH, "report", d, "-p", PUB, "--latex", os.path.join(d, "r.tex"),
                          "--macros", mac], check=True, capture_output=True, text=True).stdout
    macros, smoke = {}, None
    for line in open(mac, encoding="utf-8"):
        m = re.match(r"\\newcommand\{\\(\w+)\}\{(.*)\}$", line.strip())
        if m:
            check(m.group(1) not in macros, f"macro {m.group(1)} defined twice")
            macros[m.group(1)] = m.group(2)
        m = re.match(r"\\newif\\ifghsmoke\\ghsmoke(true|false)", line.strip())
        if m:
            smoke = m.group(1) == "true"
    checklist, ds = {}, None
    for line in out.splitlines():
        m = re.match(r"### (\S+): \d+ runs of \d+ methods", line)
        if m:
            ds = m.group(1)
            checklist[ds] = {}
        elif ds and line.startswith("| ") and not line.startswith("| item"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) == 3:
                checklist[ds][cells[0]] = cells[1]
        elif line.startswith("## ") and ds:
            ds = None
    return macros, smoke, checklist


def main():
    tmp = tempfile.mkdtemp(prefix="gh_paper_")
    try:
        base = runs(tmp, "base")
        macros, smoke, chk = report(base)

        # every number the text uses is generated
        text = open(os.path.join(SRC, "paper", "gpuhours.tex"), encoding="utf-8").read()
        text = re.sub(r"(?<!\\)%.*", "", text)  # comments name \gh{NAME} itself
        used = sorted(set(re.findall(r"\\gh\{(\w+)\}", text)))
        check(len(used) > 20, f"the text uses {len(used)} generated numbers")
        for name in used:
            check(name in macros, f"\\gh{{{name}}} used by paper/gpuhours.tex, not generated")
        for name in used:
            check(name in macros and macros[name] not in ("", "nan"), f"{name} empty")

        # numbers follow the runs: darts-second tested 0.80 and 0.78 -> error 21.00 %
        check(macros.get("dartsSecondFashionMnistError") == "21.00",
              f"darts-second error {macros.get('dartsSecondFashionMnistError')}, want 21.00")
        check(macros.get("dartsSecondError") == "21.00", "primary-dataset macro")
        check(macros.get("dartsSecondErrorKind") == "test", "darts-second tested")
        check(macros.get("randomWsErrorKind") == "validation", "random-ws validation only")
        check(macros.get("dartsSecondFashionMnistSearchSeconds") == "100.0", "search seconds")
        check(macros.get("dartsSecondFashionMnistFinalSeconds") == "200.0", "final seconds")
        check(macros.get("dartsSecondPubError") == "2.76", "published CIFAR-10 error beside")
        check(macros.get("ghRuns") == "14", f"ghRuns {macros.get('ghRuns')}")
        changed = runs(tmp, "changed", "--darts-test-acc", "0.9")
        m2, _, _ = report(changed)
        check(m2.get("dartsSecondError") == "11.00",
              f"changed run file: darts-second error {m2.get('dartsSecondError')}, want 11.00")
        diff = sorted(k for k in macros if m2.get(k) != macros[k])
        check(set(diff) == {"dartsSecondError", "dartsSecondFashionMnistError"},
              f"a changed test accuracy changes the error macros only, changed: {diff}")

        # smoke scale from the recorded settings
        check(smoke is True and macros.get("ghScale") == "smoke-scale", "smoke runs flagged")
        full = runs(tmp, "full", "--full-scale")
        m3, smoke3, _ = report(full)
        check(smoke3 is False and m3.get("ghScale") == "full-scale",
              f"full-scale runs: smoke flag {smoke3}, scale {m3.get('ghScale')}")

        # the checklist is computed from the runs
        for ds in ("credit-g", "fashion-mnist"):
            for item in ("same search space", "same training pipeline", "same data split",
                         "same budget", "same hardware", "seeds per method (>= 2)",
                         "code version recorded", "seeds recorded"):
                check(chk.get(ds, {}).get(item) == "yes", f"base {ds}: {item}: "
                      f"{chk.get(ds, {}).get(item)}")
        check(chk["fashion-mnist"].get("test set used once per final model") == "yes",
              "test set once (NAS)")
        check(chk["credit-g"].get("test set used once per final model") == "n/a",
              "no test set (tabular)")
        _, _, c = report(runs(tmp, "split", "--cfo-holdout", "0.2"))
        check(c["credit-g"]["same data split"] == "no", "a different holdout: not the same split")
        check(c["credit-g"]["same budget"] == "yes", "split variant keeps the budget")
        _, _, c = report(runs(tmp, "budget", "--tpe-budget", "20"))
        check(c["credit-g"]["same budget"] == "no", "a different budget")
        check(c["credit-g"]["same data split"] == "yes", "budget variant keeps the split")
        _, _, c = report(runs(tmp, "seeds", "--random-ws-seeds", "1"))
        check(c["fashion-mnist"]["seeds per method (>= 2)"] == "no", "one seed of random-ws")
        check(c["credit-g"]["seeds per method (>= 2)"] == "yes", "tabular seeds unchanged")

        # every figure is written, in every format
        plots = os.path.join(tmp, "plots")
        subprocess.run([GH, "plot", base, "-o", plots, "-p", PUB], check=True,
                       capture_output=True)
        for stem in ("pareto_fashion-mnist", "anytime_fashion-mnist", "tabular_credit-g",
                     "cell_darts-second_fashion-mnist", "cell_random-ws_fashion-mnist",
                     "search_cost"):
            for ext in (".png", ".pdf", ".gp", ".dat", "-tex.tex", "-tex.pdf"):
                p = os.path.join(plots, stem + ext)
                check(os.path.isfile(p) and os.path.getsize(p) > 0, f"{stem}{ext} written")
        # Pareto: final models (test accuracies 80, 78 of darts-second; 78 of darts-first),
        # none of the candidates' validation accuracies (50, 40, 30, 20, ...)
        accs = set()
        for line in open(os.path.join(plots, "pareto_fashion-mnist.dat")):
            if line.strip() and not line.startswith("#"):
                accs.add(round(float(line.split()[1]), 6))
        check(accs == {80.0, 78.0}, f"Pareto points are final models only: {sorted(accs)}")
        cell = open(os.path.join(plots, "cell_darts-second_fashion-mnist.dat")).read()
        check(cell.count("sep_conv_3x3") >= 4 and "skip_connect" in cell,
              "DARTS_V2's ops drawn in its cell")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
