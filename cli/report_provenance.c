// cli: where the runs came from, from the run files' provenance attributes: in Markdown one row
// per run; in LaTeX one row per dataset (each figure draws one dataset's runs) and distinct
// hardware and software (host, devices, GPUs held, build commit, CUDA and cuDNN versions).
#include <string.h>

#include "report.h"

static void commit_text(const report_run *r, char *out, size_t len) {
    snprintf(out, len, "%.12s%s", r->commit, !strcmp(r->dirty, "true") ? "+" : "");
}

void report_provenance_markdown(FILE *f, const report_run *r, int n) {
    fprintf(f, "\n## Provenance\n\n| run file | method | dataset | seed | host | devices | "
               "GPUs | commit | CUDA | cuDNN | started | preset | scale |\n"
               "|---|---|---|---|---|---|---:|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const char *base = strrchr(r[i].file, '/');
        char commit[24];
        commit_text(&r[i], commit, sizeof commit);
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s |\n",
                base ? base + 1 : r[i].file, r[i].method, r[i].dataset, r[i].seed, r[i].host,
                r[i].devices, r[i].gpus, commit, r[i].cuda, r[i].cudnn, r[i].start,
                r[i].preset[0] ? r[i].preset : "-", r[i].smoke ? "smoke" : "full");
    }
}

// Same hardware and software: what one LaTeX row stands for.
static int same_env(const report_run *a, const report_run *b) {
    return !strcmp(a->dataset, b->dataset) && !strcmp(a->host, b->host) &&
           !strcmp(a->devices, b->devices) && a->gpus == b->gpus &&
           !strcmp(a->commit, b->commit) && !strcmp(a->dirty, b->dirty) &&
           !strcmp(a->cuda, b->cuda) && !strcmp(a->cudnn, b->cudnn);
}

void report_provenance_latex(FILE *f, const report_run *r, int n) {
    fprintf(f, "\\begin{table}[t]\n\\centering\\small\n\\caption{Hardware and software of the "
               "runs behind each dataset's figures (run file attributes): host, devices, GPUs "
               "held, build commit (\\texttt{+}: built from a modified tree), CUDA and cuDNN "
               "versions, and whether the runs are smoke-scale.}\n\\label{tab:provenance}\n"
               "\\resizebox{\\linewidth}{!}{%%\n"
               "\\begin{tabular}{@{}llrllrllll@{}}\n\\toprule\nDataset & Methods & Runs & Host & "
               "Devices & GPUs & Commit & CUDA & cuDNN & Scale \\\\\n\\midrule\n");
    for (int i = 0; i < n; i++) {
        int first = 1;
        for (int j = 0; j < i && first; j++) first = !same_env(&r[j], &r[i]);
        if (!first) continue;
        char methods[512] = "", m[128];
        int runs = 0, smoke = 0;
        for (int j = i; j < n; j++) {
            if (!same_env(&r[j], &r[i])) continue;
            runs++;
            smoke += r[j].smoke;
            int seen = 0;
            for (int k = i; k < j && !seen; k++) seen = same_env(&r[k], &r[i]) &&
                                                       !strcmp(r[k].method, r[j].method);
            if (seen) continue;
            size_t o = strlen(methods);
            snprintf(methods + o, sizeof methods - o, "%s%s", o ? ", " : "",
                     report_tex(r[j].method, m, sizeof m));
        }
        char ds[128], host[256], dev[512], commit[24], cuda[64], cudnn[64];
        commit_text(&r[i], commit, sizeof commit);
        fprintf(f, "%s & %s & %d & %s & %s & %d & \\texttt{%s} & %s & %s & %s \\\\\n",
                report_tex(r[i].dataset, ds, sizeof ds), methods, runs,
                report_tex(r[i].host, host, sizeof host),
                report_tex(r[i].devices, dev, sizeof dev), r[i].gpus, commit,
                report_tex(r[i].cuda, cuda, sizeof cuda),
                report_tex(r[i].cudnn, cudnn, sizeof cudnn),
                smoke == runs ? "smoke" : smoke ? "partly smoke" : "full");
    }
    fprintf(f, "\\bottomrule\n\\end{tabular}}\n\\end{table}\n");
}
