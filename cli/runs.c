// cli: the walk over run files that ls, plot and report share: each file is opened and
// summarised, and one that cannot be read is skipped with a warning naming it, so the three
// commands agree on what a bad file in a directory does (the others are still shown; the
// command exits non-zero at the end).
#include <stdio.h>

#include "base/base.h"
#include "cli.h"

int cli_each_run(const char *cmd, char **files, int n, cli_run_fn fn, void *ctx, int *skipped) {
    *skipped = 0;
    for (int i = 0; i < n; i++) {
        ledger *l = NULL;
        ledger_summary s;
        int st = ledger_open_read(&l, files[i]);
        if (!st) st = ledger_summarize(l, &s);
        if (st) {
            fprintf(stderr, "gpuhours %s: skipping %s: %s: %s\n", cmd, files[i],
                    gh_status_str(st), gh_error_get());
            ledger_close(l, NULL);
            ++*skipped;
            continue;
        }
        st = fn(ctx, files[i], l, &s);
        ledger_close(l, NULL);
        if (st) return st;
    }
    return GH_OK;
}

int cli_runs_done(const char *cmd, int skipped, int n) {
    if (!skipped) return 0;
    fprintf(stderr, "gpuhours %s: %d of %d run files could not be read (see above)\n", cmd,
            skipped, n);
    return 1;
}
