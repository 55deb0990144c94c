// tests/tabular/tab_util.h: helpers of the tabular tests: write a small file, and check that a
// call fails with an exact status and message.
#pragma once
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "check.h"

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
