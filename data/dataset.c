// data/dataset.c: from a raw gh_table to learner-ready data: the target column, the task
// (binary / multiclass / regression, inferred or given), class names, features as floats with
// nominal codes kept (each learner encodes them its own way), rows subsets, and re-reading new
// data in the schema a model was trained with.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabular.h"

const char *gh_task_name(gh_task t) {
    switch (t) {
    case GH_TASK_AUTO: return "auto";
    case GH_TASK_BINARY: return "binary";
    case GH_TASK_MULTICLASS: return "multiclass";
    case GH_TASK_REGRESSION: return "regression";
    }
    return "unknown";
}

void dataset_free(gh_dataset *ds) {
    if (!ds) return;
    free(ds->x);
    free(ds->y);
    if (ds->class_names)
        for (int k = 0; k < ds->n_classes; k++) free(ds->class_names[k]);
    free(ds->class_names);
    if (ds->feat_names)
        for (int j = 0; j < ds->d; j++) free(ds->feat_names[j]);
    free(ds->feat_names);
    if (ds->level_names)
        for (int j = 0; j < ds->d; j++) {
            if (ds->level_names[j])
                for (int k = 0; k < ds->feat_levels[j]; k++) free(ds->level_names[j][k]);
            free(ds->level_names[j]);
        }
    free(ds->level_names);
    free(ds->feat_levels);
    free(ds->target_name);
    memset(ds, 0, sizeof *ds);
}

static char **copy_strings(char *const *src, int n) {
    char **d = calloc((size_t)(n ? n : 1), sizeof(char *));
    if (!d) return NULL;
    for (int i = 0; i < n; i++)
        if (!(d[i] = tab_strdup(src[i] ? src[i] : ""))) {
            for (int k = 0; k < i; k++) free(d[k]);
            free(d);
            return NULL;
        }
    return d;
}

// Allocates the per-feature arrays for d features and n rows (x, y included).
static int dataset_alloc(gh_dataset *ds, int n, int d, int n_classes) {
    ds->n = n;
    ds->d = d;
    ds->n_classes = n_classes;
    ds->x = malloc(sizeof(float) * ((size_t)n * (size_t)d + 1));
    ds->y = malloc(sizeof(float) * ((size_t)n + 1));
    ds->feat_names = calloc((size_t)d + 1, sizeof(char *));
    ds->feat_levels = calloc((size_t)d + 1, sizeof(int));
    ds->level_names = calloc((size_t)d + 1, sizeof(char **));
    ds->class_names = calloc((size_t)n_classes + 1, sizeof(char *));
    if (!ds->x || !ds->y || !ds->feat_names || !ds->feat_levels || !ds->level_names ||
        !ds->class_names)
        return gh_fail(GH_ENOMEM, "dataset: out of memory for %d rows x %d features", n, d);
    return GH_OK;
}

// Everything but x and y; n rows allocated for them.
static int copy_meta(gh_dataset *out, const gh_dataset *src, int n) {
    memset(out, 0, sizeof *out);
    int st = dataset_alloc(out, n, src->d, src->n_classes);
    if (st) return st;
    out->task = src->task;
    memcpy(out->task_reason, src->task_reason, sizeof out->task_reason);
    memcpy(out->task_warning, src->task_warning, sizeof out->task_warning);
    for (int k = 0; k < src->n_classes; k++)
        if (!(out->class_names[k] = tab_strdup(src->class_names[k]))) goto oom;
    for (int j = 0; j < src->d; j++) {
        if (!(out->feat_names[j] = tab_strdup(src->feat_names[j]))) goto oom;
        out->feat_levels[j] = src->feat_levels[j];
        if (src->feat_levels[j] && src->level_names && src->level_names[j] &&
            !(out->level_names[j] = copy_strings(src->level_names[j], src->feat_levels[j])))
            goto oom;
    }
    if (src->target_name && !(out->target_name = tab_strdup(src->target_name))) goto oom;
    return GH_OK;
oom:
    dataset_free(out);
    return gh_fail(GH_ENOMEM, "dataset: out of memory copying the schema");
}

int dataset_schema_copy(gh_dataset *out, const gh_dataset *src) { return copy_meta(out, src, 0); }

int dataset_subset(gh_dataset *out, const gh_dataset *src, const int *idx, int n) {
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= src->n)
            return gh_fail(GH_EINVAL, "dataset_subset: index %d at %d out of range [0, %d)", idx[i],
                           i, src->n);
    int st = copy_meta(out, src, n);
    if (st) return st;
    size_t d = (size_t)src->d;
    for (int i = 0; i < n; i++) {
        memcpy(out->x + (size_t)i * d, src->x + (size_t)idx[i] * d, sizeof(float) * d);
        out->y[i] = src->y[idx[i]];
    }
    return GH_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Dates become days since the epoch so that a float keeps sub-minute resolution.
static float feature_value(const gh_column *c, double v) {
    if (isnan(v)) return NAN;
    return c->type == GH_COL_DATE ? (float)(v / 86400.0) : (float)v;
}

int dataset_class_limit(int rows) { return rows / 100 > 20 ? rows / 100 : 20; }

// The rule of data.h for a target of n_distinct values over `rows` rows, with the reason and,
// near the threshold, a warning.
static gh_task infer_task(const gh_column *tcol, int n_distinct, int all_int, int rows,
                          char *reason, size_t rn, char *warning, size_t wn) {
    int limit = dataset_class_limit(rows);
    if (tcol->type == GH_COL_NOMINAL || tcol->type == GH_COL_STRING) {
        gh_task task = n_distinct == 2 ? GH_TASK_BINARY : GH_TASK_MULTICLASS;
        snprintf(reason, rn, "inferred: %s target with %d classes", tcol->type == GH_COL_NOMINAL
                 ? "nominal" : "text", n_distinct);
        return task;
    }
    if (tcol->type == GH_COL_DATE) {
        snprintf(reason, rn, "inferred: date target");
        return GH_TASK_REGRESSION;
    }
    if (!all_int) {
        snprintf(reason, rn, "inferred: numeric target with non-integer values");
        return GH_TASK_REGRESSION;
    }
    gh_task task = n_distinct > limit ? GH_TASK_REGRESSION
                   : n_distinct == 2 ? GH_TASK_BINARY : GH_TASK_MULTICLASS;
    snprintf(reason, rn, "inferred: %d distinct integer values, %s the class limit max(20, 1%% "
             "of %d rows) = %d", n_distinct, n_distinct > limit ? "over" : "within", rows, limit);
    // within 25% of the limit either side, or integers only but over it: either could be
    // class codes or a count, so say how to choose
    if (n_distinct > 2 && 4 * n_distinct >= 3 * limit && 4 * n_distinct <= 5 * limit)
        snprintf(warning, wn, "target '%s': %d distinct integer values is close to the class "
                 "limit %d: inferred %s; --task chooses", tcol->name, n_distinct, limit,
                 gh_task_name(task));
    else if (n_distinct > limit)
        snprintf(warning, wn, "target '%s' holds integers only (%d distinct values, over the "
                 "class limit %d): inferred regression; --task multiclass if they are class codes",
                 tcol->name, n_distinct, limit);
    return task;
}

int dataset_from_table(gh_dataset *out, const gh_table *t, const char *target, gh_task task) {
    memset(out, 0, sizeof *out);
    const char *src = t->source ? t->source : "table";
    int tc = target ? table_find_column(t, target) : t->n_cols - 1;
    if (tc < 0) {
        char names[512] = "";
        for (int j = 0; j < t->n_cols && strlen(names) < 400; j++) {
            strncat(names, j ? ", " : "", sizeof names - strlen(names) - 1);
            strncat(names, t->cols[j].name, sizeof names - strlen(names) - 1);
        }
        return gh_fail(GH_EINVAL, "%s: no target column '%s' (columns: %s)", src,
                       target ? target : "", names);
    }
    if (t->n_cols < 2)
        return gh_fail(GH_EFORMAT, "%s: only the target column '%s'; no features", src,
                       t->cols[tc].name);
    const gh_column *tcol = &t->cols[tc];
    int nominal_target = tcol->type == GH_COL_NOMINAL || tcol->type == GH_COL_STRING;
    if (nominal_target && task == GH_TASK_REGRESSION)
        return gh_fail(GH_EINVAL, "%s: target '%s' is nominal; regression needs a numeric target",
                       src, tcol->name);
    // rows with a target
    int n_keep = 0, n_drop = 0;
    char dropped[256] = "";
    for (int i = 0; i < t->n_rows; i++) {
        double v = t->values[(size_t)i * t->n_cols + tc];
        if (!isnan(v)) {
            // a level index the column does not have (a sparse ARFF row's absent string value
            // when no string was ever given) would index past the level names
            if (nominal_target && !(v >= 0 && v < tcol->n_levels))
                return gh_fail(GH_EFORMAT, "%s: line %d: the target '%s' has no value there (level "
                               "%g of %d)", src, t->row_lines ? t->row_lines[i] : i + 1,
                               tcol->name, v, tcol->n_levels);
            n_keep++;
            continue;
        }
        if (n_drop < 10) {
            char one[24];
            snprintf(one, sizeof one, "%s%d", n_drop ? ", " : "",
                     t->row_lines ? t->row_lines[i] : i + 1);
            strncat(dropped, one, sizeof dropped - strlen(dropped) - 1);
        }
        n_drop++;
    }
    if (n_keep == 0)
        return gh_fail(GH_EFORMAT, "%s: the target '%s' is missing in every row", src, tcol->name);
    if (n_drop)
        tab_warn("%s: %d row%s with a missing target '%s' dropped (line%s %s%s)", src, n_drop,
                 n_drop > 1 ? "s" : "", tcol->name, n_drop > 1 ? "s" : "", dropped,
                 n_drop > 10 ? ", ..." : "");
    int *rows = malloc(sizeof(int) * (size_t)n_keep);
    double *distinct = malloc(sizeof(double) * (size_t)n_keep);
    int *class_of_level = NULL;
    if (!rows || !distinct) {
        free(rows);
        free(distinct);
        return gh_fail(GH_ENOMEM, "%s: out of memory", src);
    }
    for (int i = 0, k = 0; i < t->n_rows; i++)
        if (!isnan(t->values[(size_t)i * t->n_cols + tc])) rows[k++] = i;
    for (int k = 0; k < n_keep; k++) distinct[k] = t->values[(size_t)rows[k] * t->n_cols + tc];
    qsort(distinct, (size_t)n_keep, sizeof(double), cmp_double);
    int n_distinct = 0;
    for (int k = 0; k < n_keep; k++)
        if (k == 0 || distinct[k] != distinct[k - 1]) distinct[n_distinct++] = distinct[k];
    int st = GH_OK;
    if (n_distinct < 2) {
        char val[128];
        if (nominal_target) snprintf(val, sizeof val, "%s", tcol->levels[(int)distinct[0]]);
        else snprintf(val, sizeof val, "%g", distinct[0]);
        st = gh_fail(GH_EFORMAT, "%s: the target '%s' is constant ('%s' in all %d rows); nothing "
                     "to learn", src, tcol->name, val, n_keep);
        goto done;
    }
    int all_int = 1;
    for (int k = 0; k < n_distinct; k++) all_int &= distinct[k] == floor(distinct[k]);
    char reason[sizeof out->task_reason], warning[sizeof out->task_warning] = "";
    if (task == GH_TASK_AUTO) task = infer_task(tcol, n_distinct, all_int, n_keep, reason,
                                                sizeof reason, warning, sizeof warning);
    else snprintf(reason, sizeof reason, "given");
    if (task == GH_TASK_BINARY && n_distinct != 2) {
        st = gh_fail(GH_EINVAL, "%s: task binary but the target '%s' has %d distinct values", src,
                     tcol->name, n_distinct);
        goto done;
    }
    if (task == GH_TASK_MULTICLASS && !nominal_target && !all_int) {
        st = gh_fail(GH_EINVAL, "%s: task multiclass but the target '%s' has non-integer values",
                     src, tcol->name);
        goto done;
    }
    int n_classes = task == GH_TASK_REGRESSION ? 0 : n_distinct;
    // features: every other column but free-text strings
    int d = 0;
    for (int j = 0; j < t->n_cols; j++) d += j != tc && t->cols[j].type != GH_COL_STRING;
    if (d == 0) {
        st = gh_fail(GH_EFORMAT, "%s: no usable feature columns besides the target '%s' (free-text "
                     "string columns are dropped)", src, tcol->name);
        goto done;
    }
    st = dataset_alloc(out, n_keep, d, n_classes);
    if (st) goto done;
    out->task = task;
    snprintf(out->task_reason, sizeof out->task_reason, "%s", reason);
    snprintf(out->task_warning, sizeof out->task_warning, "%s", warning);
    if (!(out->target_name = tab_strdup(tcol->name))) goto oom;
    if (n_classes) {
        // classes in declared (nominal) or ascending (numeric) order, only those present
        if (nominal_target) {
            class_of_level = malloc(sizeof(int) * (size_t)(tcol->n_levels + 1));
            if (!class_of_level) goto oom;
            for (int k = 0; k < tcol->n_levels; k++) class_of_level[k] = -1;
            for (int k = 0; k < n_distinct; k++) {
                class_of_level[(int)distinct[k]] = k;
                if (!(out->class_names[k] = tab_strdup(tcol->levels[(int)distinct[k]]))) goto oom;
            }
        } else {
            for (int k = 0; k < n_distinct; k++) {
                char name[64];
                snprintf(name, sizeof name, "%.17g", distinct[k]);
                if (!(out->class_names[k] = tab_strdup(name))) goto oom;
            }
        }
    }
    for (int k = 0; k < n_keep; k++) {
        double v = t->values[(size_t)rows[k] * t->n_cols + tc];
        if (!n_classes) out->y[k] = (float)v;
        else if (nominal_target) out->y[k] = (float)class_of_level[(int)v];
        else {
            double *hit = bsearch(&v, distinct, (size_t)n_distinct, sizeof(double), cmp_double);
            out->y[k] = (float)(hit - distinct);
        }
    }
    for (int j = 0, f = 0; j < t->n_cols; j++) {
        const gh_column *c = &t->cols[j];
        if (j == tc || c->type == GH_COL_STRING) continue;
        if (!(out->feat_names[f] = tab_strdup(c->name))) goto oom;
        if (c->type == GH_COL_NOMINAL) {
            out->feat_levels[f] = c->n_levels;
            if (!(out->level_names[f] = copy_strings(c->levels, c->n_levels))) goto oom;
        }
        for (int k = 0; k < n_keep; k++)
            out->x[(size_t)k * d + f] = feature_value(c, t->values[(size_t)rows[k] * t->n_cols + j]);
        f++;
    }
    goto done;
oom:
    st = gh_fail(GH_ENOMEM, "%s: out of memory building the dataset", src);
done:
    if (st) dataset_free(out);
    free(rows);
    free(distinct);
    free(class_of_level);
    return st;
}

// The text of a cell, for matching by level name across files: level text, or the number.
static const char *cell_text(const gh_column *c, double v, char *buf, size_t cap) {
    if ((c->type == GH_COL_NOMINAL || c->type == GH_COL_STRING) && v >= 0 && v < c->n_levels)
        return c->levels[(int)v];
    snprintf(buf, cap, "%.17g", v);
    return buf;
}

static int find_text(char *const *names, int n, const char *text) {
    for (int k = 0; k < n; k++)
        if (!strcmp(names[k], text)) return k;
    // numeric texts match by value ("1" and "1.0")
    double a, b;
    if (tab_parse_number(text, &a))
        for (int k = 0; k < n; k++)
            if (tab_parse_number(names[k], &b) && a == b) return k;
    return -1;
}

int dataset_from_table_schema(gh_dataset *out, const gh_table *t, const gh_dataset *schema) {
    const char *src = t->source ? t->source : "table";
    int st = copy_meta(out, schema, t->n_rows);
    if (st) return st;
    char buf[64];
    for (int f = 0; f < schema->d; f++) {
        int j = table_find_column(t, schema->feat_names[f]);
        if (j < 0) {
            st = gh_fail(GH_EFORMAT, "%s: no column '%s', a feature the model was trained with",
                         src, schema->feat_names[f]);
            dataset_free(out);
            return st;
        }
        const gh_column *c = &t->cols[j];
        int unseen = 0;
        for (int i = 0; i < t->n_rows; i++) {
            double v = t->values[(size_t)i * t->n_cols + j];
            float x = NAN;
            if (!isnan(v)) {
                if (schema->feat_levels[f]) {
                    int k = find_text(schema->level_names[f], schema->feat_levels[f],
                                      cell_text(c, v, buf, sizeof buf));
                    if (k < 0) unseen++;
                    else x = (float)k;
                } else if (c->type == GH_COL_NOMINAL || c->type == GH_COL_STRING) {
                    double num;
                    if (tab_parse_number(cell_text(c, v, buf, sizeof buf), &num)) x = (float)num;
                    else unseen++;
                } else {
                    x = feature_value(c, v);
                }
            }
            out->x[(size_t)i * schema->d + f] = x;
        }
        if (unseen)
            tab_warn("%s: %d value%s of '%s' not seen in training read as missing", src, unseen,
                     unseen > 1 ? "s" : "", c->name);
    }
    int tc = schema->target_name ? table_find_column(t, schema->target_name) : -1;
    int unseen = 0;
    for (int i = 0; i < t->n_rows; i++) {
        float y = NAN;
        if (tc >= 0) {
            const gh_column *c = &t->cols[tc];
            double v = t->values[(size_t)i * t->n_cols + tc];
            if (!isnan(v)) {
                if (schema->n_classes) {
                    int k = find_text(schema->class_names, schema->n_classes,
                                      cell_text(c, v, buf, sizeof buf));
                    if (k < 0) unseen++;
                    else y = (float)k;
                } else if (c->type == GH_COL_NUMERIC || c->type == GH_COL_DATE) {
                    y = (float)v;
                }
            }
        }
        out->y[i] = y;
    }
    if (unseen)
        tab_warn("%s: %d target value%s not among the trained classes", src, unseen,
                 unseen > 1 ? "s" : "");
    return GH_OK;
}
