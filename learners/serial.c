// learners/serial.c: the text serialisation of model files: a growing buffer with printf,
// quoted strings and %.17g doubles (exact round trip), and a cursor that parses them back
// with messages naming the file and the byte offset.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learner_impl.h"

static int sbuf_reserve(sbuf *b, size_t extra) {
    if (b->failed) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void sbuf_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && !sbuf_reserve(b, (size_t)n)) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void sbuf_put(sbuf *b, const void *data, size_t n) {
    if (sbuf_reserve(b, n)) return;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
}

void sbuf_quoted(sbuf *b, const char *s) {
    sbuf_put(b, "\"", 1);
    for (; *s; s++) {
        switch (*s) {
        case '"': sbuf_put(b, "\\\"", 2); break;
        case '\\': sbuf_put(b, "\\\\", 2); break;
        case '\n': sbuf_put(b, "\\n", 2); break;
        case '\t': sbuf_put(b, "\\t", 2); break;
        case '\r': sbuf_put(b, "\\r", 2); break;
        default: sbuf_put(b, s, 1);
        }
    }
    sbuf_put(b, "\"", 1);
}

void sbuf_doubles(sbuf *b, const double *v, size_t n) {
    for (size_t i = 0; i < n; i++) sbuf_printf(b, i ? " %.17g" : "%.17g", v[i]);
    sbuf_put(b, "\n", 1);
}

void sbuf_free(sbuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

// ---- the cursor ---------------------------------------------------------------------------
static void skip_space(scursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\t' || *c->p == '\r'))
        c->p++;
}

static int bad(scursor *c, const char *expected) {
    char found[24] = "end of file";
    if (c->p < c->end) {
        size_t n = 0;
        while (n < 16 && c->p + n < c->end && c->p[n] != '\n') n++;
        snprintf(found, sizeof found, "'%.*s'", (int)n, c->p);
    }
    return gh_fail(GH_EFORMAT, "%s: at byte %zu: expected %s, found %s", c->what,
                   (size_t)(c->p - c->begin), expected, found);
}

int scur_word(scursor *c, const char *expect) {
    skip_space(c);
    size_t n = strlen(expect);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, expect, n) ||
        (c->p + n < c->end && c->p[n] != ' ' && c->p[n] != '\n')) {
        char what[80];
        snprintf(what, sizeof what, "'%s'", expect);
        return bad(c, what);
    }
    c->p += n;
    return GH_OK;
}

int scur_double(scursor *c, double *v) {
    skip_space(c);
    char tmp[64];
    size_t n = 0;
    while (c->p + n < c->end && n < sizeof tmp - 1 && c->p[n] != ' ' && c->p[n] != '\n') {
        tmp[n] = c->p[n];
        n++;
    }
    tmp[n] = 0;
    char *e;
    *v = strtod(tmp, &e);
    if (!n || *e) return bad(c, "a number");
    c->p += n;
    return GH_OK;
}

int scur_int(scursor *c, long *v) {
    double d;
    skip_space(c);
    const char *at = c->p;
    int st = scur_double(c, &d);
    if (st) return st;
    // range first: casting an out-of-range double to long is undefined (cfg 1e30, NaN)
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != floor(d)) {
        c->p = at;
        return bad(c, "an integer (|value| <= 2^53)");
    }
    *v = (long)d;
    return GH_OK;
}

int scur_doubles(scursor *c, double *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int st = scur_double(c, &v[i]);
        if (st) return st;
    }
    return GH_OK;
}

int scur_quoted(scursor *c, char **out) {
    skip_space(c);
    *out = NULL;
    if (c->p >= c->end || *c->p != '"') return bad(c, "a quoted string");
    const char *q = c->p + 1;
    char *s = malloc((size_t)(c->end - q) + 1), *w = s;
    if (!s) return gh_fail(GH_ENOMEM, "%s: out of memory", c->what);
    for (; q < c->end && *q != '"'; q++) {
        if (*q == '\\' && q + 1 < c->end) {
            q++;
            *w++ = *q == 'n' ? '\n' : *q == 't' ? '\t' : *q == 'r' ? '\r' : *q;
        } else {
            *w++ = *q;
        }
    }
    if (q >= c->end) {
        free(s);
        return bad(c, "a closing quote");
    }
    *w = 0;
    c->p = q + 1;
    *out = s;
    return GH_OK;
}

int scur_bytes(scursor *c, size_t n, const char **at) {
    while (c->p < c->end && *c->p != '\n') c->p++;
    if (c->p < c->end) c->p++;
    if ((size_t)(c->end - c->p) < n) return bad(c, "the payload bytes (file truncated?)");
    *at = c->p;
    c->p += n;
    return GH_OK;
}

int scur_fits(const scursor *c, double n, size_t min_bytes) {
    return n >= 0 && n * (double)min_bytes <= (double)(c->end - c->p) + 1;   // the last: no separator
}
