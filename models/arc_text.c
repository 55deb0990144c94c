// models/arc_text.c: the integer tokens of ENAS's arc texts (the official code's
// --child_fixed_arc), read once for both formats: the micro cells (search/nas/enas_arc.c) and
// the macro network (macro_arc.c). Each format then checks the count and each token's range.
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

int arc_read_ints(const char *text, const char *what, int max, const char *limit, int *vals,
                  int *starts, int *n) {
    *n = 0;
    for (const char *p = text;;) {
        while (isspace((unsigned char)*p) || *p == ',') p++;
        if (!*p) return GH_OK;
        if (*n == max)
            return gh_fail(GH_EFORMAT, "%s: token %d at character %d: more than %d integers (%s)",
                           what, *n + 1, (int)(p - text), max, limit);
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > 1000 ||
            (*end && !isspace((unsigned char)*end) && *end != ','))
            return gh_fail(GH_EFORMAT,
                           "%s: token %d at character %d ('%.*s'): expected a non-negative "
                           "integer",
                           what, *n + 1, (int)(p - text), (int)strcspn(p, " \t\r\n,"), p);
        starts[*n] = (int)(p - text);
        vals[(*n)++] = (int)v;
        p = end;
    }
}
