// tests/fuzz/fuzz_util.h: what the harnesses share: the parsers under test read paths, so each
// input goes to a per-process temporary file (created once with mkstemps, rewritten every run,
// removed at exit). Used by the libFuzzer builds and by the replay tests alike.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_SLOTS 2   // the IDX harness writes two files per input

static char fuzz_paths_[FUZZ_SLOTS][64];

static void fuzz_remove_files_(void) {
    for (int i = 0; i < FUZZ_SLOTS; i++)
        if (fuzz_paths_[i][0]) unlink(fuzz_paths_[i]);
}

// The path of temporary file `slot` (suffix kept: table_read picks the format by it), now
// holding data[0..size). Aborts when /tmp is unusable: no input can be tested then.
static const char *fuzz_file(int slot, const char *suffix, const uint8_t *data, size_t size) {
    char *path = fuzz_paths_[slot];
    if (!path[0]) {
        snprintf(path, sizeof fuzz_paths_[slot], "/tmp/gh_fuzz_XXXXXX%s", suffix);
        int fd = mkstemps(path, (int)strlen(suffix));
        if (fd < 0) {
            perror("fuzz: mkstemps");
            abort();
        }
        close(fd);
        static int registered;
        if (!registered++) atexit(fuzz_remove_files_);
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror(path);
        abort();
    }
    return path;
}
