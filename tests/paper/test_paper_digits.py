#!/usr/bin/env python3
"""test_paper_digits: no number is typed into the prose of paper/*.tex (paper/README.md,
"The digit rule"). Every result reaches the text as \\gh{NAME} from the generated macros.

    test_paper_digits.py PAPER_DIR

Checked: the body of each .tex file (from \\begin{document}; a file without one whole), less
comments, the thebibliography environment, the arguments of the commands in SKIP_ARGS and
optional arguments in brackets. Allowed: years 1900-2099 and the names in ALLOWED.
Also checks itself: a sentence with a typed number is found, one without is not.
"""
import glob
import os
import re
import sys

SKIP_ARGS = ["gh", "ref", "label", "cite", "input", "include", "includegraphics", "begin",
             "end", "eqref", "bibitem", "graphicspath", "setlength", "colorlet", "usepackage"]
ALLOWED = ["CIFAR-10", "HDF5"]
YEAR = re.compile(r"(?<![\d.])(19|20)\d\d(?![\d.])")


def strip_args(text):
    """Removes \\cmd{...} (nested braces) for the commands of SKIP_ARGS, and [...] options."""
    out, i = [], 0
    cmd = re.compile(r"\\(" + "|".join(SKIP_ARGS) + r")\*?(?![A-Za-z])")
    while i < len(text):
        m = cmd.match(text, i)
        if not m:
            out.append(text[i])
            i += 1
            continue
        i = m.end()
        while i < len(text) and text[i] in "[{":
            close = "]" if text[i] == "[" else "}"
            opening, depth = text[i], 0
            while i < len(text):
                if text[i] == opening:
                    depth += 1
                elif text[i] == close:
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                i += 1
        out.append(" ")
    return "".join(out)


def prose(text):
    """The part of a .tex file the rule applies to."""
    if "\\begin{document}" in text:
        text = text.split("\\begin{document}", 1)[1]
    text = re.sub(r"(?<!\\)%.*", "", text)
    text = re.sub(r"\\begin\{thebibliography\}.*?\\end\{thebibliography\}", "", text,
                  flags=re.S)
    text = strip_args(text)
    text = re.sub(r"\[[^\]\n]*\]", " ", text)  # optional arguments: [t], [width=...]
    for name in ALLOWED:
        text = text.replace(name, " ")
    return YEAR.sub(" ", text)


def typed_numbers(text):
    """(line text, digits) of every digit left in the prose."""
    found = []
    for line in prose(text).splitlines():
        for m in re.finditer(r"\d[\d.,]*", line):
            found.append((line.strip(), m.group(0)))
    return found


def main():
    paper = sys.argv[1]
    # the check checks: a typed number is caught, the allowed forms are not
    bad = "\\begin{document}\nDARTS took 4 GPU-days.\n\\end{document}\n"
    good = ("\\begin{document}\nDARTS took \\gh{dartsSecondSearchGpuHours} hours on CIFAR-10 "
            "(Liu 2019), see Table~\\ref{tab:x2}. % 12 in a comment\n"
            "\\begin{figure}[t]\\includegraphics[width=0.5\\linewidth]{f1}\\end{figure}\n"
            "\\begin{thebibliography}{9}\\bibitem{a} J. 21(3):1--18.\\end{thebibliography}\n"
            "\\end{document}\n")
    assert typed_numbers(bad) == [("DARTS took 4 GPU-days.", "4")], typed_numbers(bad)
    assert typed_numbers(good) == [], typed_numbers(good)
    files = sorted(glob.glob(os.path.join(paper, "*.tex")))
    assert files, f"no .tex files in {paper}"
    failures = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line, digits in typed_numbers(f.read()):
                print(f"{path}: typed number '{digits}' in: {line}")
                failures += 1
    print(f"{len(files)} files checked, {failures} typed numbers")
    print(f"{1 if failures == 0 else 0} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
