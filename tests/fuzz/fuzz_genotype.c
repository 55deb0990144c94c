// fuzz_genotype: the genotype text parser (models/genotype.c). Whatever parses must print to
// text that parses back to an equal genotype (the form results files and --genotype share);
// a mismatch traps.
#include <stdlib.h>
#include <string.h>

#include "models/models.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    genotype g, back;
    if (!genotype_parse(&g, text)) {
        int n = genotype_print(&g, NULL, 0);
        char *printed = malloc((size_t)n + 1);
        if (!printed) __builtin_trap();
        if (genotype_print(&g, printed, (size_t)n + 1) != n || strlen(printed) != (size_t)n)
            __builtin_trap();
        if (genotype_parse(&back, printed) || !genotype_equal(&g, &back)) __builtin_trap();
        free(printed);
    }
    free(text);
    return 0;
}
