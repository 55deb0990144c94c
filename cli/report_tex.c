// cli: LaTeX escaping of run and method names for the report's tables and macros.
#include <stdio.h>

#include "report.h"

const char *report_tex(const char *s, char *out, size_t len) {
    size_t o = 0;
    for (; *s && o + 24 < len; s++) {
        const char *r = NULL;
        switch (*s) {
        case '_': r = "\\_"; break;
        case '&': r = "\\&"; break;
        case '%': r = "\\%"; break;
        case '#': r = "\\#"; break;
        case '$': r = "\\$"; break;
        case '{': r = "\\{"; break;
        case '}': r = "\\}"; break;
        case '~': r = "\\textasciitilde{}"; break;
        case '^': r = "\\textasciicircum{}"; break;
        case '\\': r = "\\textbackslash{}"; break;
        case '<': r = "\\textless{}"; break;
        case '>': r = "\\textgreater{}"; break;
        }
        if (r)
            o += (size_t)snprintf(out + o, len - o, "%s", r);
        else
            out[o++] = *s;
    }
    out[o] = 0;
    return out;
}
