// fuzz_config: the NAS config file (`[section]` headers and `key = value` lines,
// search/nas/nas_config.c) over the paper's defaults, as `gpuhours search darts --config FILE`
// reads it; a file that loads prints and reads back to the same configuration.
#include <stdlib.h>
#include <string.h>

#include "search/nas/nas.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nas_config c;
    nas_config_defaults(&c);
    if (nas_config_load(&c, fuzz_file(0, ".conf", data, size))) return 0;
    // what loads must print and read back to the same configuration (compared as printed:
    // string fields keep bytes past their end from earlier values)
    char *text = malloc(65536), *again = malloc(65536);
    if (text && again) {
        nas_config_print(&c, text, 65536);
        nas_config back;
        nas_config_defaults(&back);
        if (nas_config_load(&back, fuzz_file(1, ".conf", (const uint8_t *)text, strlen(text))))
            __builtin_trap();
        nas_config_print(&back, again, 65536);
        if (strcmp(text, again)) __builtin_trap();
    }
    free(text);
    free(again);
    return 0;
}
