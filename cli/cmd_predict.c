// cli: `gpuhours predict MODEL DATA [-o OUT.csv]`: applies a saved tabular model (a
// learner_save file, e.g. the best model of `gpuhours tune`) to a CSV or ARFF file read in the
// model's schema, writes one prediction per row (and class probabilities), and scores the
// predictions when DATA holds the target column.
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "learners/learners.h"

static void usage(FILE *f) {
    fprintf(f, "usage: gpuhours predict MODEL DATA [-o OUT.csv] [-q] [-h]\n\n"
               "Applies a saved model (from `gpuhours tune`) to DATA (.csv, .tsv, .arff,\n"
               ".arff.gz). Columns are matched by name; nominal values by their text (values\n"
               "unseen in training are read as missing). Writes CSV: `prediction` (the class or\n"
               "the value) and, for classification, `p_CLASS` per class. When DATA has the\n"
               "target column, prints the model's metrics on it.\n\n"
               "options:\n"
               "  -o, --output FILE   write the predictions to FILE (default: stdout)\n"
               "  -q, --quiet         no configuration echo or metrics on stderr\n"
               "  -h, --help          this help\n");
}

// RFC 4180: quote a field holding a delimiter, quote or line break; double inner quotes.
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_predictions(FILE *f, const gh_dataset *ds, const float *pred) {
    int k = ds->n_classes;
    fputs("prediction", f);
    for (int c = 0; c < k; c++) {
        char name[512];
        snprintf(name, sizeof name, "p_%s", ds->class_names[c]);
        fputc(',', f);
        csv_field(f, name);
    }
    fputc('\n', f);
    for (int i = 0; i < ds->n; i++) {
        if (k == 0) {
            fprintf(f, "%.9g\n", pred[i]);
            continue;
        }
        const float *p = pred + (size_t)i * k;
        int best = 0;
        for (int c = 1; c < k; c++)
            if (p[c] > p[best]) best = c;
        csv_field(f, ds->class_names[best]);
        for (int c = 0; c < k; c++) fprintf(f, ",%.6g", p[c]);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

static void print_metrics(const gh_dataset *ds, const float *pred) {
    int scored = 0;
    for (int i = 0; i < ds->n; i++) scored += !isnan(ds->y[i]);
    if (!scored) return;
    static const gh_metric cls[] = {METRIC_ACCURACY, METRIC_ROC_AUC, METRIC_LOGLOSS, METRIC_MACRO_F1};
    static const gh_metric reg[] = {METRIC_R2, METRIC_RMSE};
    const gh_metric *ms = ds->n_classes ? cls : reg;
    int nm = ds->n_classes ? 4 : 2;
    fprintf(stderr, "metrics on %d rows with a target:", scored);
    for (int i = 0; i < nm; i++)
        fprintf(stderr, " %s %.4f", metric_name(ms[i]),
                metric_value_from_loss(ms[i], metric_loss(ms[i], ds, pred)));
    fprintf(stderr, "\n");
}

int cmd_predict(int argc, char **argv) {
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    const char *out_path = NULL;
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out_path = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "gpuhours predict: expected MODEL and DATA\n\n");
        usage(stderr);
        return 2;
    }
    const char *model_path = argv[optind], *data_path = argv[optind + 1];
    learner_model *m = NULL;
    int st = learner_load(&m, model_path);
    if (st) return cli_fail("predict", st);
    const learner_def *def = learner_model_def(m);
    const gh_dataset *schema = learner_model_schema(m);
    if (!quiet) {
        fprintf(stderr, "predict: model %s\n  learner %s, trained on %s, task %s, target '%s', "
                "%d features\n", model_path, def->name, learner_model_device(m),
                gh_task_name(schema->task), schema->target_name ? schema->target_name : "",
                schema->d);
        fprintf(stderr, "  data %s\n  output %s\n", data_path, out_path ? out_path : "stdout");
    }
    gh_table t;
    gh_dataset ds = {0};
    float *pred = NULL;
    FILE *f = NULL;
    char *tmp = NULL;
    st = table_read(&t, data_path);
    if (st) goto done;
    st = dataset_from_table_schema(&ds, &t, schema);
    table_free(&t);
    if (st) goto done;
    int k = ds.n_classes ? ds.n_classes : 1;
    pred = malloc(sizeof(float) * ((size_t)ds.n * k + 1));
    if (!pred) {
        st = gh_fail(GH_ENOMEM, "predict: out of memory for %d rows", ds.n);
        goto done;
    }
    st = learner_predict(m, &ds, pred);
    if (st) goto done;
    if (out_path) {
        // PATH.tmp then rename: a failure never leaves a half-written prediction file
        tmp = malloc(strlen(out_path) + 5);
        if (!tmp) {
            st = gh_fail(GH_ENOMEM, "predict: out of memory");
            goto done;
        }
        sprintf(tmp, "%s.tmp", out_path);
        f = fopen(tmp, "w");
        if (!f) {
            st = gh_fail(GH_EIO, "%s: cannot write", tmp);
            goto done;
        }
    }
    int werr = write_predictions(f ? f : stdout, &ds, pred);
    if (f) {
        werr |= fclose(f);
        f = NULL;
        if (werr || rename(tmp, out_path)) {
            remove(tmp);
            st = gh_fail(GH_EIO, "%s: write failed", out_path);
            goto done;
        }
    } else if (werr || fflush(stdout)) {
        st = gh_fail(GH_EIO, "stdout: write failed");
        goto done;
    }
    if (!quiet) {
        fprintf(stderr, "predict: %d rows%s%s\n", ds.n, out_path ? " -> " : "",
                out_path ? out_path : "");
        print_metrics(&ds, pred);
    }
done:
    if (f) fclose(f);
    free(tmp);
    free(pred);
    dataset_free(&ds);
    learner_free(m);
    return st ? cli_fail("predict", st) : 0;
}
