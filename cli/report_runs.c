// cli: the facts of one run that the checklist and the paper's macros need (settings from its
// config text, provenance attributes, phase costs, test evaluations, the tabular trials), read
// once per file, and the rule that calls a run smoke-scale.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "report.h"

int report_config_each(const char *config, int (*fn)(void *ctx, const char *key, char *value),
                       void *ctx) {
    char section[64] = "";
    for (const char *p = config; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char line[1024];
        if (n >= sizeof line) n = sizeof line - 1;
        memcpy(line, p, n);
        line[n] = 0;
        p += n + (eol != NULL);
        char *s = line + strspn(line, " \t");
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (e) {
                *e = 0;
                snprintf(section, sizeof section, "%s", s + 1);
            }
            continue;
        }
        char *eq = strstr(s, " = ");
        if (!eq) continue;
        *eq = 0;
        char full[160];
        snprintf(full, sizeof full, "%.63s%s%.90s", section, section[0] ? "." : "", s);
        char *v = eq + 3;
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v[vl - 1] = 0;
            v++;
        }
        int st = fn(ctx, full, v);
        if (st) return st;
    }
    return 0;
}

typedef struct {
    const char *key;
    char *buf;
    size_t len;
} config_get_ctx;

static int config_get_one(void *ctx, const char *key, char *value) {
    config_get_ctx *g = ctx;
    if (strcmp(key, g->key)) return 0;
    snprintf(g->buf, g->len, "%s", value);
    return 1;
}

const char *report_config_get(const char *config, const char *key, char *buf, size_t len) {
    config_get_ctx g = {key, buf, len};
    return report_config_each(config, config_get_one, &g) ? buf : NULL;
}

int report_run_is_smoke(const report_run *r) {
    if (strstr(r->preset, "smoke")) return 1;
    char b[64];
    if (r->tabular) return isfinite(r->budget_s) && r->budget_s < REPORT_SMOKE_TUNE_S;
    const char *limits[] = {"data.search_limit", "data.final_limit", "data.test_limit"};
    for (int i = 0; i < 3; i++) {
        const char *v = report_config_get(r->config, limits[i], b, sizeof b);
        if (v && atof(v) > 0) return 1;
    }
    return 0;
}

// The preset a command line names: `reproduce NAME` or `--preset NAME` / `-p NAME`.
static void preset_of(const char *cmdline, char *out, size_t len) {
    out[0] = 0;
    if (!cmdline) return;
    const char *p = strstr(cmdline, "--preset");
    if (p) {
        p += 8;
        if (*p == '=') p++;
    } else if (!strncmp(cmdline, "reproduce ", 10)) {
        p = cmdline + 10;
    } else {
        return;
    }
    while (*p == ' ' || *p == '\'') p++;
    size_t n = strcspn(p, " '");
    if (n >= len) n = len - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

static void attr(ledger *l, const char *name, char *out, size_t len) {
    const char *v = ledger_attr(l, name);
    snprintf(out, len, "%s", v ? v : "");
}

// The metric a tabular run optimised: the config's, "auto" resolved as tune resolves it.
static void metric_of(const char *config, char *out, size_t len) {
    char b[128], t[128];
    const char *m = report_config_get(config, "metric", b, sizeof b);
    const char *task = report_config_get(config, "task", t, sizeof t);
    if (m && strcmp(m, "auto")) {
        size_t k = strlen(m) < len ? strlen(m) : len - 1;   // a metric name; cut if too long
        memcpy(out, m, k);
        out[k] = 0;
    } else if (task && !strncmp(task, "binary", 6)) {
        snprintf(out, len, "roc_auc");
    } else if (task && !strncmp(task, "multiclass", 10)) {
        snprintf(out, len, "log_loss");
    } else {
        snprintf(out, len, "r2");
    }
}

int report_run_read(ledger *l, const char *path, const ledger_summary *s, report_run *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->file, sizeof r->file, "%s", path);
    attr(l, "method", r->method, sizeof r->method);
    attr(l, "dataset", r->dataset, sizeof r->dataset);
    attr(l, "seed", r->seed, sizeof r->seed);
    attr(l, "host", r->host, sizeof r->host);
    attr(l, "device_names", r->devices, sizeof r->devices);
    attr(l, "build_commit", r->commit, sizeof r->commit);
    attr(l, "build_dirty", r->dirty, sizeof r->dirty);
    attr(l, "start_time", r->start, sizeof r->start);
    attr(l, "cuda_runtime_version", r->cuda, sizeof r->cuda);
    attr(l, "cudnn_version", r->cudnn, sizeof r->cudnn);
    attr(l, "gpuhours_version", r->version, sizeof r->version);
    const char *cfg = ledger_attr(l, "config_text"), *w = ledger_attr(l, "workers");
    r->config = strdup(cfg ? cfg : "");
    if (!r->config) return gh_fail(GH_ENOMEM, "%s", path);
    preset_of(ledger_attr(l, "command_line"), r->preset, sizeof r->preset);
    r->gpus = s->gpus;
    r->workers = w ? atoi(w) : 1;
    double to_s = 3600;
    r->search_s = to_s * (s->gpus ? s->search_gpu_hours : s->search_wall_hours);
    r->select_s = to_s * s->selection_gpu_hours;
    r->final_s = to_s * (s->gpus ? s->final_gpu_hours : s->final_wall_hours);
    r->total_s = to_s * (s->gpus ? s->gpu_hours : s->wall_hours);
    r->acc = s->acc;
    r->acc_is_test = s->acc_is_test;
    r->madds = s->madds;
    r->params = s->params;
    char b[64];
    const char *bud = report_config_get(r->config, "budget_s", b, sizeof b);
    if (!bud) bud = report_config_get(r->config, "search.budget", b, sizeof b);
    r->budget_s = bud && atof(bud) > 0 ? atof(bud) : NAN;
    int64_t nt = ledger_num_trials(l);
    r->t_s = malloc(((size_t)nt + 1) * sizeof *r->t_s);
    r->loss = malloc(((size_t)nt + 1) * sizeof *r->loss);
    if (!r->t_s || !r->loss) return gh_fail(GH_ENOMEM, "%s", path);
    for (int64_t i = 0; i < nt; i++) {
        ledger_trial t;
        if (ledger_read_trial(l, i, &t))
            return gh_fail(GH_EFORMAT, "%s: trial %lld unreadable", path, (long long)i);
        if (t.learner && t.learner[0]) r->tabular = 1;
        if (isfinite(t.test_acc)) r->n_test++;
        if (!strcmp(t.status, "ok") && isfinite(t.val_loss)) {
            r->t_s[r->nt] = ledger_trial_run_time(l, i);
            r->loss[r->nt++] = t.val_loss;
        }
    }
    // Final models: the distinct trials the final phase trained (one per seed).
    int64_t ne = ledger_num_epochs(l), last = INT64_MIN;
    for (int64_t i = 0; i < ne; i++) {
        ledger_epoch e;
        if (ledger_read_epoch(l, i, &e)) continue;
        if (strcmp(e.phase, "final") || e.trial_id == last) continue;
        last = e.trial_id;
        r->n_final++;
    }
    if (r->tabular) metric_of(r->config, r->metric, sizeof r->metric);
    r->smoke = report_run_is_smoke(r);
    return GH_OK;
}

void report_run_free(report_run *r) {
    free(r->config);
    free(r->t_s);
    free(r->loss);
    memset(r, 0, sizeof *r);
}
