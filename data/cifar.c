// cifar: the CIFAR-10/100 binary format (a user-supplied directory): validated record by
// record, errors name the file, the record and its byte offset.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data.h"

#define CIFAR_PIXELS 3072  // 3 planes of 32 x 32

static int append_file(gh_images *out, const char *path, int classes) {
    int label_bytes = classes == 100 ? 2 : 1;
    size_t rec = (size_t)label_bytes + CIFAR_PIXELS;
    FILE *f = fopen(path, "rb");
    if (!f) return gh_fail(GH_EIO, "cifar: cannot open %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return gh_fail(GH_EIO, "cifar: cannot seek in %s", path);
    }
    long size = ftell(f);
    rewind(f);
    if (size <= 0 || (size_t)size % rec) {
        fclose(f);
        return gh_fail(GH_EFORMAT,
                       "cifar: %s has %ld bytes, not a whole number of %zu-byte records "
                       "(1 %s + 3072 pixels): truncated, or not CIFAR-%d binary",
                       path, size, rec, label_bytes == 1 ? "label byte" : "coarse + 1 fine label byte",
                       classes);
    }
    int add = (int)((size_t)size / rec), n0 = out->n;
    float *x = realloc(out->x, sizeof(float) * CIFAR_PIXELS * (size_t)(n0 + add));
    if (x) out->x = x;
    int *y = realloc(out->y, sizeof(int) * (size_t)(n0 + add));
    if (y) out->y = y;
    unsigned char *buf = malloc(rec);
    if (!x || !y || !buf) {
        free(buf);
        fclose(f);
        return gh_fail(GH_ENOMEM, "cifar: no memory for %d more images of %s", add, path);
    }
    for (int i = 0; i < add; i++) {
        if (fread(buf, 1, rec, f) != rec) {
            free(buf);
            fclose(f);
            return gh_fail(GH_EIO, "cifar: %s: short read at record %d (offset %zu)", path, i,
                           (size_t)i * rec);
        }
        int label = buf[label_bytes - 1];  // CIFAR-100: the fine label follows the coarse one
        if (label >= classes) {
            free(buf);
            fclose(f);
            return gh_fail(GH_EFORMAT, "cifar: %s: record %d (offset %zu): label %d outside 0..%d",
                           path, i, (size_t)i * rec, label, classes - 1);
        }
        out->y[n0 + i] = label;
        float *dst = out->x + (size_t)(n0 + i) * CIFAR_PIXELS;
        for (int k = 0; k < CIFAR_PIXELS; k++) dst[k] = buf[label_bytes + k] * (1.0f / 255.0f);
    }
    free(buf);
    fclose(f);
    out->n = n0 + add;
    return GH_OK;
}

int images_read_cifar_file(gh_images *out, const char *path, int classes) {
    memset(out, 0, sizeof *out);
    if (classes != 10 && classes != 100)
        return gh_fail(GH_EINVAL, "cifar: classes must be 10 or 100, got %d", classes);
    out->c = 3;
    out->h = out->w = 32;
    out->classes = classes;
    int st = append_file(out, path, classes);
    if (st) images_free(out);
    return st;
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int images_read_cifar_dir(gh_images *out, const char *dir, int classes, const char *split) {
    memset(out, 0, sizeof *out);
    if (classes != 10 && classes != 100)
        return gh_fail(GH_EINVAL, "cifar: classes must be 10 or 100, got %d", classes);
    int train = !strcmp(split, "train");
    if (!train && strcmp(split, "test"))
        return gh_fail(GH_EINVAL, "cifar: split must be train or test, got '%s'", split);
    if (!is_dir(dir))
        return gh_fail(GH_EIO, "cifar: data directory %s does not exist (download the binary "
                               "version from https://www.cs.toronto.edu/~kriz/cifar.html)", dir);
    char base[4096], path[4200];
    // accept the directory of the batches or its parent (the tarball's top folder)
    snprintf(base, sizeof base, "%s/%s", dir, classes == 10 ? "cifar-10-batches-bin" : "cifar-100-binary");
    if (!is_dir(base)) snprintf(base, sizeof base, "%s", dir);
    out->c = 3;
    out->h = out->w = 32;
    out->classes = classes;
    int st = GH_OK;
    if (classes == 10 && train) {
        for (int b = 1; b <= 5 && !st; b++) {
            snprintf(path, sizeof path, "%s/data_batch_%d.bin", base, b);
            st = append_file(out, path, classes);
        }
    } else {
        snprintf(path, sizeof path, "%s/%s", base,
                 classes == 10 ? "test_batch.bin" : train ? "train.bin" : "test.bin");
        st = append_file(out, path, classes);
    }
    if (st) images_free(out);
    return st;
}
