// tests/tabular/tab_util.h: helpers of the tabular tests: write a small file, and check that a
// call fails with an exact status and message.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "check.h"

// Every test that writes files works in a fresh directory of its own (made under the current
// one, so error messages keep their short relative names): ctest runs the tabular tests side
// by side in one directory, and a test run by hand must not litter the source tree.
static inline int tab_enter_tmpdir(const char *test) {
    char dir[256];
    snprintf(dir, sizeof dir, "tmp_%s_XXXXXX", test);
    if (!mkdtemp(dir) || chdir(dir)) {
        perror(dir);
        return 1;
    }
    return 0;
}

static inline void tab_write(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        return;
    }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

// The call returns `status` and gh_error_get() starts with `msg`.
#define CHECK_FAILS(call, status, msg)                                                       \
    do {                                                                                     \
        int st_ = (call);                                                                    \
        CHECK_MSG(st_ == (status), "%s returned %d, expected %d (%s)", #call, st_, (status),  \
                  gh_error_get());                                                           \
        CHECK_MSG(!strncmp(gh_error_get(), (msg), strlen(msg)), "message\n  got:  %s\n  want: %s", \
                  gh_error_get(), (msg));                                                    \
    } while (0)
