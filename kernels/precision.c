// kernels: the names of the arithmetic precisions a conv can run at (gh_precision), one table
// that the engine, the config parser and the run file all read.
#include <string.h>

#include "kernels.h"

static const char *const prec_names[GH_PREC_COUNT] = {"fp32", "tf32", "bf16"};
_Static_assert(GH_PREC_FP32 == 0 && GH_PREC_TF32 == 1 && GH_PREC_BF16 == 2 && GH_PREC_COUNT == 3,
               "prec_names follows the gh_precision enum");

const char *gh_precision_name(gh_precision p) {
    return (int)p >= 0 && (int)p < GH_PREC_COUNT ? prec_names[p] : NULL;
}

int gh_precision_parse(const char *text, gh_precision *p) {
    for (int i = 0; text && i < GH_PREC_COUNT; i++)
        if (!strcmp(text, prec_names[i])) {
            *p = (gh_precision)i;
            return GH_OK;
        }
    return gh_fail(GH_EINVAL, "precision '%s': expected fp32, tf32 or bf16",
                   text ? text : "(null)");
}
