// fuzz_config: the NAS config file (`key = value` lines, search/nas/darts_config.c) over the
// paper's defaults, as `gpuhours search darts --config FILE` reads it.
#include "search/nas/nas.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    darts_config c;
    darts_config_defaults(&c);
    darts_config_load(&c, fuzz_file(0, ".conf", data, size));
    return 0;
}
