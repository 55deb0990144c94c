// cli: numeric option values, checked the same way by every command: the whole text is a
// number of the right kind, finite, and inside the option's range; the message names the
// option, the text found and the range accepted.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "cli.h"

int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < lo || v > hi) {
        fprintf(stderr, "gpuhours %s: %s '%s': expected an integer in %ld..%ld\n", cmd, opt, s,
                lo, hi);
        return 2;
    }
    *out = v;
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi,
               double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || !(v >= lo && v <= hi)) {
        fprintf(stderr, "gpuhours %s: %s '%s': expected a finite number in [%g, %g]\n", cmd, opt,
                s, lo, hi);
        return 2;
    }
    *out = v;
    return 0;
}

int cli_seed(const char *cmd, const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
    if (!(s[0] >= '0' && s[0] <= '9') || *end || errno == ERANGE || v > CLI_SEED_MAX) {
        fprintf(stderr, "gpuhours %s: %s '%s': expected an integer in 0..%llu\n", cmd, opt, s,
                (unsigned long long)CLI_SEED_MAX);
        return 2;
    }
    *out = v;
    return 0;
}

int cli_out_path(const char *cmd, const char *opt, const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "gpuhours %s: %s %s is a directory; expected a file name (e.g. "
                "%s/run.h5)\n", cmd, opt, path, path);
        return 2;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    if (access(dir, W_OK | X_OK) == 0) return 0;
    fprintf(stderr, "gpuhours %s: %s %s: expected a file in a writable directory; %s: %s\n", cmd,
            opt, path, dir, strerror(errno));
    return 2;
}
