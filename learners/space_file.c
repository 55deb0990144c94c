// learners/space_file.c: overrides of a learner's search space from a config file, one per
// line: `LEARNER.HP = LO..HI [log|linear]` (a new range), `LEARNER.HP = VALUE` (fixed), and
// `LEARNER.HP.init = VALUE` (CFO's starting point); '#' starts a comment. Errors name
// file:line and what was expected.
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learner_impl.h"

// Every learner name a file may mention, in this build or not (a typo is an error).
static const char *const known[] = {"xgboost", "xgb_limitdepth", "rf", "lrl1", "lrl2", "linear",
                                    "mlp"};

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int parse_num(const char *s, double *v) {
    char *e;
    *v = strtod(s, &e);
    return e != s && *e == 0 && isfinite(*v);
}

static double clamp(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static int apply_line(const learner_def *def, hp_domain *space, const char *path, int line,
                      char *key, char *value) {
    char *dot = strchr(key, '.');
    if (!dot)
        return gh_fail(GH_EFORMAT, "%s:%d: key '%s' must be LEARNER.HP (e.g. xgboost.learning_rate)",
                       path, line, key);
    *dot = 0;
    const char *learner = key, *hp = dot + 1;
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= !strcmp(known[i], learner);
    if (!ok)
        return gh_fail(GH_EFORMAT, "%s:%d: unknown learner '%s' (xgboost, xgb_limitdepth, rf, lrl1, "
                       "lrl2, linear, mlp)", path, line, learner);
    if (strcmp(learner, def->name)) return GH_OK;
    char *field = strchr(hp, '.');
    if (field) *field++ = 0;
    int h = -1;
    for (int i = 0; i < def->n_hp; i++)
        if (!strcmp(space[i].name, hp)) h = i;
    if (h < 0) {
        char list[256] = "";
        for (int i = 0; i < def->n_hp; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, space[i].name, sizeof list - strlen(list) - 1);
        }
        return gh_fail(GH_EFORMAT, "%s:%d: %s has no hyperparameter '%s' (it has: %s)", path, line,
                       def->name, hp, list);
    }
    hp_domain *d = &space[h];
    if (d->kind == HP_CAT)
        return gh_fail(GH_EUNSUP, "%s:%d: %s.%s is categorical; only numeric ranges can be set",
                       path, line, def->name, hp);
    double a, b;
    if (field) {
        if (strcmp(field, "init"))
            return gh_fail(GH_EFORMAT, "%s:%d: unknown field '%s' (only LEARNER.HP.init)", path,
                           line, field);
        if (!parse_num(value, &a) || a < d->lo || a > d->hi)
            return gh_fail(GH_EFORMAT, "%s:%d: %s.%s.init = '%s': expected a number in [%g, %g]",
                           path, line, def->name, hp, value, d->lo, d->hi);
        d->init = d->kind == HP_INT ? round(a) : a;
        return GH_OK;
    }
    char *range = strstr(value, "..");
    if (!range) {
        if (!parse_num(value, &a))
            return gh_fail(GH_EFORMAT, "%s:%d: %s.%s = '%s': expected LO..HI [log] or a number",
                           path, line, def->name, hp, value);
        if (d->kind == HP_INT) a = round(a);
        d->lo = d->hi = d->init = d->low_cost_init = a;
        d->log = 0;
        return GH_OK;
    }
    *range = 0;
    char *lo = trim(value), *rest = trim(range + 2);
    char *scale = rest;
    while (*scale && !isspace((unsigned char)*scale)) scale++;
    if (*scale) *scale++ = 0;
    scale = trim(scale);
    if (!parse_num(lo, &a) || !parse_num(rest, &b) || a > b)
        return gh_fail(GH_EFORMAT, "%s:%d: %s.%s: expected LO..HI with LO <= HI, found '%s..%s'",
                       path, line, def->name, hp, lo, rest);
    int log_scale = d->log;
    if (!strcmp(scale, "log")) log_scale = 1;
    else if (!strcmp(scale, "linear")) log_scale = 0;
    else if (*scale)
        return gh_fail(GH_EFORMAT, "%s:%d: unknown scale '%s' (log or linear)", path, line, scale);
    if (log_scale && a <= 0)
        return gh_fail(GH_EFORMAT, "%s:%d: %s.%s: a log scale needs LO > 0, found %g", path, line,
                       def->name, hp, a);
    if (d->kind == HP_INT) {
        if (ceil(a) > floor(b))
            return gh_fail(GH_EFORMAT, "%s:%d: %s.%s: no integer in %s..%s", path, line,
                           def->name, hp, lo, rest);
        a = ceil(a), b = floor(b);
    }
    d->lo = a;
    d->hi = b;
    d->log = log_scale;
    d->init = clamp(d->init, a, b);
    d->low_cost_init = clamp(d->low_cost_init, a, b);
    return GH_OK;
}

int learner_space_override(const learner_def *def, hp_domain *space, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return gh_fail(GH_EIO, "%s: cannot open the search-space file", path);
    char buf[1024];
    int line = 0, st = GH_OK;
    while (!st && fgets(buf, sizeof buf, f)) {
        line++;
        if (!strchr(buf, '\n') && !feof(f)) {
            st = gh_fail(GH_EFORMAT, "%s:%d: line longer than %zu characters", path, line,
                         sizeof buf - 2);
            break;
        }
        char *hash = strchr(buf, '#');
        if (hash) *hash = 0;
        char *s = trim(buf);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            st = gh_fail(GH_EFORMAT, "%s:%d: expected LEARNER.HP = VALUE, found '%s'", path, line, s);
            break;
        }
        *eq = 0;
        st = apply_line(def, space, path, line, trim(s), trim(eq + 1));
    }
    fclose(f);
    return st;
}
