// ledger: which files a command works on: paths given on the command line, directories
// expanded to the run files (*.h5) they hold, in a stable (sorted) order.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "ledger.h"

static int push(char ***v, int *n, int *cap, const char *s) {
    if (*n + 2 > *cap) {
        int nc = *cap ? 2 * *cap : 16;
        char **nv = realloc(*v, (size_t)nc * sizeof *nv);
        if (!nv) return gh_fail(GH_ENOMEM, "ledger_find_files");
        *v = nv;
        *cap = nc;
    }
    if (!((*v)[*n] = strdup(s))) return gh_fail(GH_ENOMEM, "ledger_find_files");
    (*v)[++*n] = NULL;
    return GH_OK;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ledger_find_files(int npaths, char **paths, char ***files, int *nfiles) {
    char **v = NULL;
    int n = 0, cap = 0, st = GH_OK;
    for (int i = 0; i < npaths && !st; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) < 0) {
            st = gh_fail(GH_EIO, "%s: %s", paths[i], strerror(errno));
            break;
        }
        if (!S_ISDIR(sb.st_mode)) {
            st = push(&v, &n, &cap, paths[i]);
            continue;
        }
        DIR *d = opendir(paths[i]);
        if (!d) {
            st = gh_fail(GH_EIO, "%s: %s", paths[i], strerror(errno));
            break;
        }
        int first = n;
        struct dirent *e;
        while (!st && (e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (e->d_name[0] == '.' || len < 4 || strcmp(e->d_name + len - 3, ".h5")) continue;
            char full[4096];
            snprintf(full, sizeof full, "%s/%s", paths[i], e->d_name);
            st = push(&v, &n, &cap, full);
        }
        closedir(d);
        if (n > first) qsort(v + first, (size_t)(n - first), sizeof *v, by_name);
    }
    if (st || !v) {
        if (!st) { // nothing found: an empty list, not an error
            v = calloc(1, sizeof *v);
            if (!v) st = gh_fail(GH_ENOMEM, "ledger_find_files");
        }
        if (st) {
            ledger_free_files(v);
            return st;
        }
    }
    *files = v;
    *nfiles = n;
    return GH_OK;
}

void ledger_free_files(char **files) {
    if (!files) return;
    for (char **p = files; *p; p++) free(*p);
    free(files);
}
