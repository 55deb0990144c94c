// tune_json: the JSON of `gpuhours tune`'s records, written and read here only, with cJSON: a
// learner config (each trial's `arch` in the ledger, read back by --resume) and the best
// result ("tune/best"). Numbers are printed in the fewest digits that read back to the same
// double, so a config survives the round trip bit for bit.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpo.h"

// cJSON's own printer settles for 15 digits when they read back within an epsilon, not to the
// same double; the shortest of %.15g..%.17g that strtod returns exactly is used instead.
static cJSON *exact_number(double v) {
    if (!isfinite(v)) return cJSON_CreateNull();
    char buf[32];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return cJSON_CreateRaw(buf);
}

// Adds v to o under key; 0 when out of memory (v not attached is freed).
static int add_item(cJSON *o, const char *key, cJSON *v) {
    if (v && cJSON_AddItemToObject(o, key, v)) return 1;
    cJSON_Delete(v);
    return 0;
}

static int add_number(cJSON *o, const char *key, double v) {
    return add_item(o, key, exact_number(v));
}

// A config object; NULL when out of memory. An out-of-range category is written as null.
static cJSON *cfg_object(const learner_def *def, const double *cfg) {
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    for (int i = 0; ok && i < def->n_hp; i++) {
        const hp_domain *h = &def->hps[i];
        int k = (int)round(cfg[i]);
        if (h->kind != HP_CAT)
            ok = add_number(o, h->name, h->kind == HP_INT ? round(cfg[i]) : cfg[i]);
        else if (k >= 0 && k < h->n_choices)
            ok = add_item(o, h->name, cJSON_CreateString(h->choices[k]));
        else
            ok = add_item(o, h->name, cJSON_CreateNull());
    }
    if (!ok) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

// The text of a document (cJSON allocates it with malloc: the caller frees it with free).
static char *print_doc(cJSON *doc, const char *what) {
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!text) gh_fail(GH_ENOMEM, "tune: JSON text of %s", what);
    return text;
}

char *tune_cfg_json(const learner_def *def, const double *cfg) {
    return print_doc(cfg_object(def, cfg), "a config");
}

// "line L, column C" of position pos in text.
static void line_col(const char *text, const char *pos, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (const char *p = text; *p && p < pos; p++) {
        if (*p == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static const char *json_kind(const cJSON *v) {
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsBool(v)) return "a boolean";
    return "null";
}

// One field's value into *out, per the domain of h.
static int field_value(const hp_domain *h, const cJSON *v, const char *where, const char *learner,
                       double *out) {
    if (h->kind != HP_CAT) {
        if (!cJSON_IsNumber(v))
            return gh_fail(GH_EFORMAT, "%s: field '%s': expected a number, found %s", where,
                           h->name, json_kind(v));
        *out = h->kind == HP_INT ? round(v->valuedouble) : v->valuedouble;
        return GH_OK;
    }
    if (!cJSON_IsString(v))
        return gh_fail(GH_EFORMAT, "%s: field '%s': expected one of the choices of %s, found %s",
                       where, h->name, learner, json_kind(v));
    for (int c = 0; c < h->n_choices; c++)
        if (!strcmp(v->valuestring, h->choices[c])) {
            *out = c;
            return GH_OK;
        }
    return gh_fail(GH_EFORMAT, "%s: field '%s': '%s' is not a choice of %s", where, h->name,
                   v->valuestring, learner);
}

static int cfg_from_object(const learner_def *def, const cJSON *o, const char *where,
                           double *cfg) {
    if (!cJSON_IsObject(o))
        return gh_fail(GH_EFORMAT, "%s: expected an object of %s's hyperparameters, found %s",
                       where, def->name, json_kind(o));
    for (const cJSON *f = o->child; f; f = f->next) {
        int known = 0;
        for (int i = 0; i < def->n_hp && !known; i++) known = !strcmp(f->string, def->hps[i].name);
        if (!known)
            return gh_fail(GH_EFORMAT, "%s: field '%s': not a hyperparameter of %s", where,
                           f->string, def->name);
    }
    for (int i = 0; i < def->n_hp; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, def->hps[i].name);
        if (!v)
            return gh_fail(GH_EFORMAT, "%s: field '%s' of %s missing", where, def->hps[i].name,
                           def->name);
        int st = field_value(&def->hps[i], v, where, def->name, &cfg[i]);
        if (st) return st;
    }
    return GH_OK;
}

// Parses text as one JSON document; GH_EFORMAT naming where, the line and the column.
static int parse_doc(const char *text, const char *where, cJSON **out) {
    const char *end = NULL;
    *out = cJSON_ParseWithOpts(text, &end, 1);
    if (*out) return GH_OK;
    if (!end) end = text;
    int line, col;
    line_col(text, end, &line, &col);
    return gh_fail(GH_EFORMAT, "%s: malformed JSON at line %d, column %d (near '%.20s')", where,
                   line, col, end);
}

int tune_cfg_parse(const learner_def *def, const char *text, const char *where, double *cfg) {
    cJSON *doc;
    int st = parse_doc(text, where, &doc);
    if (st) return st;
    st = cfg_from_object(def, doc, where, cfg);
    cJSON_Delete(doc);
    return st;
}

char *tune_best_json(const tune_result *r, gh_metric metric, double budget_s, int folds) {
    cJSON *doc = cJSON_CreateObject();
    int ok = doc && cJSON_AddStringToObject(doc, "learner", r->best_learner->name);
    cJSON *cfg = ok ? cfg_object(r->best_learner, r->best_cfg) : NULL;
    ok = ok && cfg && cJSON_AddItemToObject(doc, "config", cfg);   // doc owns cfg from here
    if (!ok) cJSON_Delete(cfg);
    ok = ok && add_number(doc, "val_loss", r->best_loss) &&
         cJSON_AddStringToObject(doc, "metric", metric_name(metric));
    const struct {
        const char *key;
        double v;
    } nums[] = {
        {"metric_value", metric_value_from_loss(metric, r->best_loss)},
        {"sample_fraction", r->best_fidelity},
        {"budget_s", budget_s},
        {"search_s", r->search_s},
        {"time_to_best_s", r->time_to_best_s},
        {"refit_s", r->refit_s},
        {"trials", (double)r->n_trials},
        {"folds", folds},
    };
    for (size_t i = 0; ok && i < sizeof nums / sizeof nums[0]; i++)
        ok = add_number(doc, nums[i].key, nums[i].v);
    if (!ok) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    return print_doc(doc, "the best result");
}

int tune_prior_read(ledger *l, tune_prior **out, int *n, double *used_s) {
    int64_t nt = ledger_num_trials(l);
    *n = 0;
    *used_s = 0;
    *out = calloc((size_t)(nt ? nt : 1), sizeof **out);
    if (!*out) return gh_fail(GH_ENOMEM, "resume: %lld trials", (long long)nt);
    for (int64_t i = 0; i < nt; i++) {
        ledger_trial t;
        int st = ledger_read_trial(l, i, &t);
        // a learner this build lacks: its trials cannot be replayed, nor proposed again here
        const learner_def *def = st || !t.learner ? NULL : learner_find(t.learner);
        if (!st && (!def || !t.arch)) continue;
        tune_prior *p = &(*out)[*n];
        char where[1200];
        snprintf(where, sizeof where, "%s: trial %lld (%s) config", ledger_path(l), (long long)i,
                 def ? def->name : "?");
        if (!st) st = tune_cfg_parse(def, t.arch, where, p->cfg);
        if (st) {
            free(*out);
            *out = NULL;
            *n = 0;
            return st;
        }
        p->learner = def;
        p->rows = (int)t.fidelity;
        p->loss = isnan(t.val_loss) ? INFINITY : t.val_loss;
        p->seconds = t.cost.wall_s;
        p->at_s = ledger_trial_run_time(l, i);
        if (p->at_s > *used_s) *used_s = p->at_s;
        (*n)++;
    }
    return GH_OK;
}
