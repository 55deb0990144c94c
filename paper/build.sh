#!/bin/sh
# paper/build.sh GPUHOURS RESULTS PAPER: builds PAPER/gpuhours.pdf from the runs in RESULTS
# (`make paper`). Everything it makes goes under PAPER/generated/ (ignored by git): the
# figures (gpuhours plot: PNG, PDF, cairolatex), the tables, checklist and provenance
# (gpuhours report --latex), every number of the text (--macros numbers.tex), the list of
# figures per dataset, and the kernel table when benchmark output exists. Fails on a LaTeX
# error and on any undefined reference or citation.
# Kernel benchmark CSVs (bench/README.md): BENCH_OURS, BENCH_PEER (default: the CPU pair that
# `make bench-cpu` writes in build/bench/); BENCH_OURS_BACKEND, BENCH_PEER_BACKEND keep one
# backend of each (a GPU CSV holds cuda and cudnn rows: the same file twice, two backends).
set -eu
gh=${1:?usage: build.sh GPUHOURS RESULTS PAPER}
results=${2:?results dir}
paper=${3:?paper dir}
gen=$paper/generated
bench_ours=${BENCH_OURS:-build/bench/kernels_cpu.csv}
bench_peer=${BENCH_PEER:-build/bench/kernels_torch.csv}

rm -rf "$gen"
mkdir -p "$gen/plots"
"$gh" plot "$results" -o "$gen/plots"
"$gh" report "$results" --latex "$gen/report.tex" --macros "$gen/numbers.tex" \
    --checklist-latex "$gen/checklist.tex" --provenance-latex "$gen/provenance.tex" \
    > "$gen/report.md"
cat "$gen/provenance.tex" >> "$gen/checklist.tex"

# One figure environment per figure the runs gave; the captions name the dataset and method
# taken from the file names, so that nothing here is typed per result.
# Text in the paper's fonts (cairolatex) by default; PDF=1: the plain PDF (cell drawings and
# the search cost's many bar labels, which cairolatex would set at the text's size).
figure() { # FILE-STEM CAPTION LABEL
    [ -f "$gen/plots/$1-tex.tex" ] || return 0
    if [ "${PDF:-0}" = 1 ]; then body="\\includegraphics[width=\\linewidth]{$1.pdf}"
    else body="\\resizebox{\\linewidth}{!}{\\input{generated/plots/$1-tex.tex}}"; fi
    printf '\\begin{figure}[tp]\n\\centering\n%s\n\\caption{%s}\\label{%s}\n\\end{figure}\n\n' \
        "$body" "$2" "$3"
}
: > "$gen/figures-cost.tex"
PDF=1 figure search_cost "Search cost per method and dataset: measured by this harness (device hours; \
on machines without a GPU, wall-clock hours) and as published (GPU-days \$\\times\$ hours per \
day), log scale." fig:search-cost >> "$gen/figures-cost.tex"
[ -s "$gen/figures-cost.tex" ] || printf '%s\n' '\begin{figure}[tp]\centering No NAS search \
was run and no published cost was found.\caption{Search cost (none).}\label{fig:search-cost}\end{figure}' \
    > "$gen/figures-cost.tex"
: > "$gen/figures-nas.tex"
: > "$gen/figures-tab.tex"
first=1
for f in "$gen"/plots/pareto_*-tex.tex; do
    [ -f "$f" ] || continue
    stem=$(basename "$f" -tex.tex); ds=${stem#pareto_}
    label=fig:pareto-$ds; [ $first = 1 ] && label=fig:pareto && first=0
    figure "$stem" "Final models on \\texttt{$ds}: test accuracy against multiply-adds per image, \
with each method's Pareto front." "$label" >> "$gen/figures-nas.tex"
done
[ $first = 1 ] && printf '%s\n' '\begin{figure}[tp]\centering No final model was trained and tested: \
there is no accuracy to plot against multiply-adds.\caption{Final models (none).}\label{fig:pareto}\end{figure}' \
    >> "$gen/figures-nas.tex"
for f in "$gen"/plots/cell_*-tex.tex; do
    [ -f "$f" ] || continue
    stem=$(basename "$f" -tex.tex); md=${stem#cell_}
    PDF=1 figure "$stem" "The normal and the reduction cell of the most accurate run of \
\\texttt{$(printf %s "$md" | sed 's/_/ on /; s/_/\\_/g')}, drawn from the genotype it recorded." \
        "fig:$stem" >> "$gen/figures-nas.tex"
done
for f in "$gen"/plots/anytime_*-tex.tex; do
    [ -f "$f" ] || continue
    stem=$(basename "$f" -tex.tex); ds=${stem#anytime_}
    # tabular datasets have their own anytime figure (best validation loss)
    [ -f "$gen/plots/tabular_$ds-tex.tex" ] && continue
    figure "$stem" "Best validation accuracy so far against cumulative device hours on \
\\texttt{$ds}: mean over seeds (line) and one standard deviation (band)." "fig:$stem" \
        >> "$gen/figures-nas.tex"
done
for f in "$gen"/plots/tabular_*-tex.tex; do
    [ -f "$f" ] || continue
    stem=$(basename "$f" -tex.tex); ds=${stem#tabular_}
    figure "$stem" "Tabular search on \\texttt{$ds}: best validation loss so far against \
wall-clock seconds per searcher, mean over seeds (line) and one standard deviation (band)." \
        "fig:$stem" >> "$gen/figures-tab.tex"
done

# Kernels against the peer: a table when both benchmark CSVs exist (op, shape, medians).
if [ -f "$bench_ours" ] && [ -f "$bench_peer" ]; then
    echo '\ghkernelstrue' > "$gen/kernels-flag.tex"
    awk -F, -v ours="$bench_ours" -v ob="${BENCH_OURS_BACKEND:-}" -v pb="${BENCH_PEER_BACKEND:-}" '
        FNR == 1 { file++ }
        /^#/ || $1 == "op" { next }
        file == 1 { if (ob == "" || $3 == ob) t[$1 "," $2] = $4; next }
        pb != "" && $3 != pb { next }
        ($1 "," $2) in t { o = t[$1 "," $2]; gsub(/_/, "\\_", $1); gsub(/x/, "$\\times$", $2);
            printf "%s & %s & %.4g & %.4g & %.2f \\\\\n", $1, $2, o, $4, o / $4 }
    ' "$bench_ours" "$bench_peer" > "$gen/kernels-rows.tex"
    { printf '%s\n' '\begin{table}[t]\centering\small' \
        "\\caption{Median time per call (ms) of our kernels (\\texttt{$(basename "$bench_ours")}) and the peer's (\\texttt{$(basename "$bench_peer")}); ratio below one: ours faster.}\\label{tab:kernels}" \
        '\begin{tabular}{@{}llrrr@{}}\toprule' 'Op & Shape & Ours & Peer & Ratio \\ \midrule'
      cat "$gen/kernels-rows.tex"
      printf '%s\n' '\bottomrule\end{tabular}\end{table}'; } | sed 's/_/\\_/g; s/\\\\_/\\_/g' > "$gen/kernels.tex"
else
    : > "$gen/kernels-flag.tex"
fi

cd "$paper"
latexmk -pdf -interaction=nonstopmode -halt-on-error -file-line-error gpuhours.tex \
    > generated/latexmk.log 2>&1 || { tail -n 40 generated/latexmk.log; echo "paper: LaTeX failed (log: $paper/generated/latexmk.log, $paper/gpuhours.log)"; exit 1; }
if grep -E "There were undefined references|Reference .* undefined|Citation .* undefined" gpuhours.log; then
    echo "paper: undefined references (above; $paper/gpuhours.log)"; exit 1
fi
echo "paper: $paper/gpuhours.pdf ($(pdfinfo gpuhours.pdf 2>/dev/null | awk '/^Pages/ {print $2}') pages) from $results"
