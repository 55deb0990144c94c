// fuzz_arc: ENAS's arc texts, the integer sequences of the official code's --child_fixed_arc:
// the micro cells (search/nas/enas_arc.c, nodes from the count) and the macro network
// (models/macro_arc.c). Whatever parses must validate and print to text that parses back to an
// equal arc (the form results files and --genotype share); a mismatch traps.
#include <stdlib.h>
#include <string.h>

#include "search/nas/nas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    enas_arc a, b;
    if (!enas_arc_parse(&a, text, 0)) {
        if (enas_arc_validate(&a)) __builtin_trap();
        int n = enas_arc_print(&a, NULL, 0);
        char *printed = malloc((size_t)n + 1);
        if (!printed) __builtin_trap();
        if (enas_arc_print(&a, printed, (size_t)n + 1) != n || enas_arc_parse(&b, printed, 0) ||
            memcmp(&a, &b, sizeof a))
            __builtin_trap();
        free(printed);
    }
    enas_macro_arc m, back;
    if (!enas_macro_arc_parse(&m, text)) {
        if (enas_macro_arc_validate(&m)) __builtin_trap();
        int n = enas_macro_arc_print(&m, NULL, 0);
        char *printed = malloc((size_t)n + 1);
        if (!printed) __builtin_trap();
        if (enas_macro_arc_print(&m, printed, (size_t)n + 1) != n ||
            enas_macro_arc_parse(&back, printed) || !enas_macro_arc_equal(&m, &back))
            __builtin_trap();
        free(printed);
    }
    free(text);
    return 0;
}
