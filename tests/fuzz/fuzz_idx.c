// fuzz_idx: the IDX reader (data/idx.c), images file and labels file. The first input byte
// picks where the rest splits into the two (scaled to the length), so both files and their
// agreement get mutated; gzip-compressed inputs go through the same path.
#include "data/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t rest = size - 1, cut = rest * data[0] / 255;
    const char *images = fuzz_file(0, "-images", data + 1, cut);
    const char *labels = fuzz_file(1, "-labels", data + 1 + cut, rest - cut);
    gh_images im;
    if (!images_read_idx(&im, images, labels)) images_free(&im);
    return 0;
}
