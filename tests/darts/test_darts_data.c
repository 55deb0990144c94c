// test_darts_data: the CIFAR binary reader on generated files (values, labels, CIFAR-100's fine
// label) and its errors (truncated file, label out of range, missing directory), the DARTS
// split, seeded samples, and augmentation: exact on known pixels, deterministic by seed.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "data/data.h"

static void write_cifar(const char *path, int n, int label_bytes, int bad_label_at, int truncate) {
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < n; i++) {
        unsigned char lab[2] = {(unsigned char)(i % 20), (unsigned char)(i % 10)};
        if (i == bad_label_at) lab[label_bytes - 1] = 200;
        fwrite(lab, 1, (size_t)label_bytes, f);
        for (int k = 0; k < 3072; k++) fputc((i * 7 + k) % 256, f);
    }
    if (truncate) fputc(1, f);
    fclose(f);
}

int main(void) {
    mkdir("cifar_t", 0755);
    char p[256];
    for (int b = 1; b <= 5; b++) {
        snprintf(p, sizeof p, "cifar_t/data_batch_%d.bin", b);
        write_cifar(p, 4, 1, -1, 0);
    }
    write_cifar("cifar_t/test_batch.bin", 3, 1, -1, 0);
    gh_images tr, te;
    CHECK_OK(images_read_cifar_dir(&tr, "cifar_t", 10, "train"));
    CHECK_OK(images_read_cifar_dir(&te, "cifar_t", 10, "test"));
    CHECK(tr.n == 20 && te.n == 3 && tr.c == 3 && tr.h == 32 && tr.w == 32 && tr.classes == 10);
    CHECK(tr.y[5] == 1 && tr.y[4] == 0);   // record 1 of batch 2
    CHECK(fabsf(tr.x[1 * 3072 + 1024 + 5] - (float)((7 + 1024 + 5) % 256) / 255.0f) < 1e-6f);  // G plane
    // CIFAR-100: the fine label is the second byte
    write_cifar("c100.bin", 3, 2, -1, 0);
    gh_images c100;
    CHECK_OK(images_read_cifar_file(&c100, "c100.bin", 100));
    CHECK(c100.n == 3 && c100.y[2] == 2);
    images_free(&c100);

    // bad inputs: the message names the file and what is wrong
    write_cifar("trunc.bin", 2, 1, -1, 1);
    gh_images bad;
    CHECK(images_read_cifar_file(&bad, "trunc.bin", 10) == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "trunc.bin") && strstr(gh_error_get(), "truncated"));
    write_cifar("label.bin", 3, 1, 2, 0);
    CHECK(images_read_cifar_file(&bad, "label.bin", 10) == GH_EFORMAT);
    CHECK(strstr(gh_error_get(), "label.bin") && strstr(gh_error_get(), "record 2") &&
          strstr(gh_error_get(), "label 200"));
    CHECK(images_read_cifar_dir(&bad, "no_such_dir", 10, "train") == GH_EIO);
    CHECK(strstr(gh_error_get(), "no_such_dir") != NULL);
    mkdir("cifar_empty", 0755);
    CHECK(images_read_cifar_dir(&bad, "cifar_empty", 10, "train") == GH_EIO);
    CHECK(strstr(gh_error_get(), "data_batch_1.bin") != NULL);

    // the DARTS split: first half / second half in index order
    gh_images a, b;
    CHECK_OK(images_split(&tr, 0.5, &a, &b));
    CHECK(a.n == 10 && b.n == 10 && a.y[3] == tr.y[3] && b.y[0] == tr.y[10]);
    CHECK(!memcmp(b.x, tr.x + 10 * 3072, 3072 * sizeof(float)));
    images_free(&a);
    images_free(&b);
    CHECK(images_split(&tr, 1.0, &a, &b) == GH_EINVAL);
    gh_images s1, s2;
    CHECK_OK(images_sample(&s1, &tr, 7, 42));
    CHECK_OK(images_sample(&s2, &tr, 7, 42));
    CHECK(s1.n == 7 && !memcmp(s1.x, s2.x, 7 * 3072 * sizeof(float)));
    images_free(&s2);
    CHECK_OK(images_sample(&s2, &tr, 7, 43));
    CHECK(memcmp(s1.y, s2.y, 7 * sizeof(int)) != 0 || memcmp(s1.x, s2.x, 7 * 3072 * 4) != 0);

    // augmentation: normalisation only is exact; crop/flip/cutout are a function of the seed
    images_aug aug = {.crop_pad = 4, .flip = 1, .cutout = 16};
    CHECK_OK(images_channel_stats(&tr, aug.mean, aug.std));
    int idx[4] = {0, 5, 9, 19}, y[4];
    float *x1 = malloc(4 * 3072 * 4), *x2 = malloc(4 * 3072 * 4), *x3 = malloc(4 * 3072 * 4);
    images_batch(&tr, idx, 4, &aug, 0, 1, 0, x1, y);
    CHECK(x1[3072 + 100] == (tr.x[5 * 3072 + 100] - aug.mean[0]) / aug.std[0] ||
          x1[3072 + 100] == (tr.x[5 * 3072 + 100] - aug.mean[0]) * (1.0f / aug.std[0]));
    CHECK(y[1] == tr.y[5]);
    images_batch(&tr, idx, 4, &aug, 1, 1, 3, x1, y);
    images_batch(&tr, idx, 4, &aug, 1, 1, 3, x2, y);
    CHECK(!memcmp(x1, x2, 4 * 3072 * 4));  // same seed and epoch: same batch
    // the same image in another batch position gets the same transform
    int idx2[2] = {9, 0};
    images_batch(&tr, idx2, 2, &aug, 1, 1, 3, x3, y);
    CHECK(!memcmp(x3, x1 + 2 * 3072, 3072 * 4) && !memcmp(x3 + 3072, x1, 3072 * 4));
    images_batch(&tr, idx, 4, &aug, 1, 2, 3, x2, y);
    CHECK(memcmp(x1, x2, 4 * 3072 * 4) != 0);  // another seed: another batch
    images_batch(&tr, idx, 4, &aug, 1, 1, 4, x2, y);
    CHECK(memcmp(x1, x2, 4 * 3072 * 4) != 0);  // another epoch too
    // cutout zeroes a square of at most 16x16 in every channel
    images_aug co = {.cutout = 16, .mean = {0, 0, 0}, .std = {1, 1, 1}};
    int zeros = 0;
    images_batch(&tr, idx, 1, &co, 1, 5, 0, x1, y);
    for (int k = 0; k < 1024; k++) zeros += x1[k] == 0.0f && tr.x[k] != 0.0f;
    CHECK(zeros > 0 && zeros <= 256);
    free(x1); free(x2); free(x3);
    images_free(&a); images_free(&b); images_free(&s1); images_free(&s2);
    images_free(&tr); images_free(&te);
    return check_done("test_darts_data");
}
