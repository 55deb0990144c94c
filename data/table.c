// data/table.c: the gh_table container (dispatch by extension, free, column lookup) and the
// helpers the tabular readers share: whole-file reads through zlib (so .arff.gz and plain
// files go through one path), strict number and date parsing, level interning, warnings.
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tabular.h"

char *tab_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void tab_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("gpuhours: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

// Length of the valid UTF-8 sequence at p (1..4), or 0 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
static int utf8_seq(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    int n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!n || end - p < n) return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;   // overlong
    if (c == 0xED && p[1] > 0x9F) return 0;   // surrogates
    if (c == 0xF0 && p[1] < 0x90) return 0;   // overlong
    if (c == 0xF4 && p[1] > 0x8F) return 0;   // above U+10FFFF
    return n;
}

int tab_check_utf8(const char *path, const char *buf, size_t len) {
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    int line = 1, col = 1;
    while (p < end) {
        int n = utf8_seq(p, end);
        if (!n)
            return gh_fail(GH_EFORMAT, "%s:%d:%d: invalid UTF-8 (byte 0x%02X); text files are read "
                           "as UTF-8 so that names and classes reach models and predictions "
                           "unchanged: convert it first (e.g. iconv -f latin1 -t utf-8)",
                           path, line, col, p[0]);
        if (*p == '\n') line++, col = 1;
        else col++;
        p += n;
    }
    return GH_OK;
}

int tab_slurp(const char *path, char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    // gzread passes plain files through unchanged, so one path reads .arff and .arff.gz.
    gzFile f = gzopen(path, "rb");
    if (!f) return gh_fail(GH_EIO, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    if (!b) {
        gzclose(f);
        return gh_fail(GH_ENOMEM, "%s: out of memory reading the file", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap > ((size_t)1 << 40)) break;
            char *nb = realloc(b, 2 * cap + 1);
            if (!nb) {
                free(b);
                gzclose(f);
                return gh_fail(GH_ENOMEM, "%s: out of memory reading %zu bytes", path, 2 * cap);
            }
            b = nb;
            cap *= 2;
        }
        int want = (int)((cap - n) > (1u << 30) ? (1u << 30) : (cap - n));
        int got = gzread(f, b + n, (unsigned)want);
        if (got < 0) {
            int e;
            const char *msg = gzerror(f, &e);
            gh_fail(GH_EIO, "%s: read error after %zu bytes: %s", path, n, msg);
            free(b);
            gzclose(f);
            return GH_EIO;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    gzclose(f);
    b[n] = 0;
    if (memchr(b, 0, n))
        tab_warn("%s: contains NUL bytes; the text after the first one is ignored", path);
    *buf = b;
    *len = strlen(b);
    return GH_OK;
}

int tab_parse_number(const char *s, double *out) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s) return 0;
    while (*end == ' ' || *end == '\t' || *end == '\r') end++;
    if (*end) return 0;
    // strtod accepts "nan", "inf" and hex; a table cell holding those is not a measurement.
    if (!isfinite(v)) return 0;
    for (const char *p = s; p < end; p++)
        if (*p == 'x' || *p == 'X') return 0;
    *out = v;
    return 1;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

// min..max digits into *v. A pattern's run of letters sets max (`ddddddddddddd`), but no date
// field has more than 9 digits and 9 always fit an int: more would overflow it (and wrap a
// 13-digit day to a valid one).
static int read_digits(const char **p, int min, int max, int *v) {
    int n = 0, x = 0;
    if (max > 9) max = 9;
    while (n < max && isdigit((unsigned char)**p)) {
        x = x * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    *v = x;
    return n >= min;
}

int tab_parse_date(const char *s, const char *fmt, double *out) {
    int Y = 1970, M = 1, D = 1, h = 0, mi = 0, se = 0, ms = 0;
    const char *p = s;
    while (*p == ' ') p++;
    if (!fmt) {
        if (!read_digits(&p, 4, 4, &Y) || *p++ != '-' || !read_digits(&p, 2, 2, &M) ||
            *p++ != '-' || !read_digits(&p, 2, 2, &D))
            return 0;
        if (*p == 'T' || *p == ' ') {
            p++;
            if (!read_digits(&p, 2, 2, &h) || *p++ != ':' || !read_digits(&p, 2, 2, &mi)) return 0;
            if (*p == ':') {
                p++;
                if (!read_digits(&p, 2, 2, &se)) return 0;
            }
            if (*p == 'Z') p++;
        }
    } else {
        const char *f = fmt;
        while (*f) {
            if (*f == '\'') {  // quoted literal; '' is a single quote
                f++;
                while (*f && *f != '\'') {
                    if (*p++ != *f++) return 0;
                }
                if (*f) f++;
                continue;
            }
            if (isalpha((unsigned char)*f)) {
                char c = *f;
                int run = 0;
                while (*f == c) {
                    f++;
                    run++;
                }
                int *dst = NULL, lo = run, hi = run < 2 ? 2 : run;
                switch (c) {
                case 'y': dst = &Y; hi = run == 2 ? 2 : 4; lo = run == 2 ? 2 : 1; break;
                case 'M': dst = &M; break;
                case 'd': dst = &D; break;
                case 'H': case 'k': dst = &h; break;
                case 'm': dst = &mi; break;
                case 's': dst = &se; break;
                case 'S': dst = &ms; hi = 3; break;
                default: return 0;   // text months, time zones, am/pm: not supported
                }
                if (!read_digits(&p, lo, hi, dst)) return 0;
                if (c == 'y' && run == 2) Y += Y < 70 ? 2000 : 1900;
                continue;
            }
            if (*p++ != *f++) return 0;
        }
    }
    while (*p == ' ' || *p == '\r') p++;
    if (*p) return 0;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 24 || mi > 59 || se > 60) return 0;
    *out = (double)days_from_civil(Y, M, D) * 86400.0 + h * 3600.0 + mi * 60.0 + se + ms / 1000.0;
    return 1;
}

// ---- level interning: FNV-1a over the text, open addressing -----------------------------
static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void tab_levels_init(tab_levels *l) { memset(l, 0, sizeof *l); }

static int levels_rehash(tab_levels *l, int n_slots) {
    int *slots = malloc(sizeof(int) * (size_t)n_slots);
    if (!slots) return -1;
    for (int i = 0; i < n_slots; i++) slots[i] = -1;
    for (int i = 0; i < l->n; i++) {
        size_t k = fnv1a(l->texts[i]) & (size_t)(n_slots - 1);
        while (slots[k] >= 0) k = (k + 1) & (size_t)(n_slots - 1);
        slots[k] = i;
    }
    free(l->slots);
    l->slots = slots;
    l->n_slots = n_slots;
    return 0;
}

int tab_levels_find(const tab_levels *l, const char *text) {
    if (!l->n_slots) return -1;
    size_t k = fnv1a(text) & (size_t)(l->n_slots - 1);
    while (l->slots[k] >= 0) {
        if (!strcmp(l->texts[l->slots[k]], text)) return l->slots[k];
        k = (k + 1) & (size_t)(l->n_slots - 1);
    }
    return -1;
}

int tab_levels_intern(tab_levels *l, const char *text) {
    int i = tab_levels_find(l, text);
    if (i >= 0) return i;
    if (2 * (l->n + 1) > l->n_slots && levels_rehash(l, l->n_slots ? 2 * l->n_slots : 16)) return -1;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        char **t = realloc(l->texts, sizeof(char *) * (size_t)cap);
        if (!t) return -1;
        l->texts = t;
        l->cap = cap;
    }
    char *copy = tab_strdup(text);
    if (!copy) return -1;
    l->texts[l->n] = copy;
    size_t k = fnv1a(text) & (size_t)(l->n_slots - 1);
    while (l->slots[k] >= 0) k = (k + 1) & (size_t)(l->n_slots - 1);
    l->slots[k] = l->n;
    return l->n++;
}

char **tab_levels_take(tab_levels *l, int *n) {
    char **t = l->texts;
    *n = l->n;
    free(l->slots);
    memset(l, 0, sizeof *l);
    return t;
}

void tab_levels_free(tab_levels *l) {
    for (int i = 0; i < l->n; i++) free(l->texts[i]);
    free(l->texts);
    free(l->slots);
    memset(l, 0, sizeof *l);
}

// ---- the table ---------------------------------------------------------------------------
int tab_table_alloc(gh_table *t, const char *path, int n_rows, int n_cols) {
    memset(t, 0, sizeof *t);
    t->n_rows = n_rows;
    t->n_cols = n_cols;
    t->cols = calloc((size_t)(n_cols ? n_cols : 1), sizeof(gh_column));
    t->values = malloc(sizeof(double) * ((size_t)n_rows * (size_t)n_cols + 1));
    t->row_lines = malloc(sizeof(int) * ((size_t)n_rows + 1));
    t->source = tab_strdup(path);
    if (!t->cols || !t->values || !t->row_lines || !t->source) {
        table_free(t);
        return gh_fail(GH_ENOMEM, "%s: out of memory for a %d x %d table", path, n_rows, n_cols);
    }
    return GH_OK;
}

void table_free(gh_table *t) {
    if (!t) return;
    if (t->cols) {
        for (int j = 0; j < t->n_cols; j++) {
            free(t->cols[j].name);
            for (int k = 0; k < t->cols[j].n_levels; k++) free(t->cols[j].levels[k]);
            free(t->cols[j].levels);
        }
    }
    free(t->cols);
    free(t->values);
    free(t->row_lines);
    free(t->source);
    memset(t, 0, sizeof *t);
}

int table_find_column(const gh_table *t, const char *name) {
    for (int j = 0; j < t->n_cols; j++)
        if (!strcmp(t->cols[j].name, name)) return j;
    return -1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

int table_read(gh_table *out, const char *path) {
    memset(out, 0, sizeof *out);
    if (ends_with(path, ".arff") || ends_with(path, ".arff.gz")) return table_read_arff(out, path);
    if (ends_with(path, ".csv") || ends_with(path, ".csv.gz") || ends_with(path, ".tsv") ||
        ends_with(path, ".txt"))
        return table_read_csv(out, path);
    return gh_fail(GH_EINVAL, "%s: unknown table format (expected .csv, .tsv, .arff or .arff.gz)",
                   path);
}
