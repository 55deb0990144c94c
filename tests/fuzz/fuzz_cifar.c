// fuzz_cifar: the CIFAR binary reader (data/cifar.c), as CIFAR-10 and as CIFAR-100 (one and
// two label bytes per record).
#include "data/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(0, ".bin", data, size);
    gh_images im;
    if (!images_read_cifar_file(&im, path, 10)) images_free(&im);
    if (!images_read_cifar_file(&im, path, 100)) images_free(&im);
    return 0;
}
