// data: readers and transforms for the datasets gpuhours trains and searches on. Every
// reader validates its input and, on bad input, returns GH_EFORMAT/GH_EIO with a message
// naming the file, the line/offset and the field.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../base/base.h"

#ifdef __cplusplus
extern "C" {
#endif

// ==== images (idx.c, cifar.c, augment.c) =====================================================
// n images of c x h x w floats in [0, 1] (NCHW), labels in [0, classes).
typedef struct {
    int n, c, h, w, classes;
    float *x;
    int *y;
} gh_images;

// IDX (MNIST, Fashion-MNIST), gzip-compressed or not (by magic bytes, not by name).
int images_read_idx(gh_images *out, const char *images_path, const char *labels_path);
// dir/train-images-idx3-ubyte[.gz] etc.; split: "train" or "test".
int images_read_mnist_dir(gh_images *out, const char *dir, const char *split);
void images_free(gh_images *im);
#define GH_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

// ==== tabular (csv.c, arff.c, table.c) ========================================================
// (declared by the tabular readers)

#ifdef __cplusplus
}
#endif
