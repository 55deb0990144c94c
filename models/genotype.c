// genotype: the architecture as data, in DARTS's own text form (the repr of its Genotype
// namedtuple), parsed with positions in the errors and printed canonically, plus the named
// genotypes of the reference code.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

// ---- named genotypes (DARTS's genotypes.py) ----------------------------------------------------
static const struct { const char *name, *text; } named[] = {
    {"DARTS_V1",
     "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), "
     "('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
     "('skip_connect', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
     "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('max_pool_3x3', 0), "
     "('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])"},
    {"DARTS_V2",
     "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
     "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
     "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
     "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
     "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"},
    {"NASNet",
     "Genotype(normal=[('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('sep_conv_5x5', 0), "
     "('sep_conv_3x3', 0), ('avg_pool_3x3', 1), ('skip_connect', 0), ('avg_pool_3x3', 0), "
     "('avg_pool_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 1)], "
     "normal_concat=[2, 3, 4, 5, 6], reduce=[('sep_conv_5x5', 1), ('sep_conv_7x7', 0), "
     "('max_pool_3x3', 1), ('sep_conv_7x7', 0), ('avg_pool_3x3', 1), ('sep_conv_5x5', 0), "
     "('skip_connect', 3), ('avg_pool_3x3', 2), ('sep_conv_3x3', 2), ('max_pool_3x3', 1)], "
     "reduce_concat=[4, 5, 6])"},
    {"AmoebaNet",
     "Genotype(normal=[('avg_pool_3x3', 0), ('max_pool_3x3', 1), ('sep_conv_3x3', 0), "
     "('sep_conv_5x5', 2), ('sep_conv_3x3', 0), ('avg_pool_3x3', 3), ('sep_conv_3x3', 1), "
     "('skip_connect', 1), ('skip_connect', 0), ('avg_pool_3x3', 1)], normal_concat=[4, 5, 6], "
     "reduce=[('avg_pool_3x3', 0), ('sep_conv_3x3', 1), ('max_pool_3x3', 0), "
     "('sep_conv_7x7', 2), ('sep_conv_7x7', 0), ('avg_pool_3x3', 1), ('max_pool_3x3', 0), "
     "('max_pool_3x3', 1), ('conv_7x1_1x7', 0), ('sep_conv_3x3', 5)], reduce_concat=[3, 4, 6])"},
    // ENAS's published micro cell (melodyguan/enas scripts/cifar10_micro_final.sh fixed_arc
    // "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1") as
    // search/nas's enas_arc_to_genotype converts it (tests/darts/test_enas_arc checks the two
    // agree): concat of the nodes no node reads.
    {"ENAS",
     "Genotype(normal=[('avg_pool_3x3', 0), ('sep_conv_3x3', 0), ('skip_connect', 0), "
     "('sep_conv_5x5', 0), ('skip_connect', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 1), "
     "('sep_conv_5x5', 0), ('avg_pool_3x3', 0), ('sep_conv_5x5', 1)], "
     "normal_concat=[2, 3, 4, 5, 6], "
     "reduce=[('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('max_pool_3x3', 0), "
     "('avg_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_5x5', 3), ('sep_conv_3x3', 1), "
     "('skip_connect', 0), ('max_pool_3x3', 0), ('sep_conv_5x5', 1)], "
     "reduce_concat=[2, 4, 5, 6])"},
    // ENAS's published macro network (cifar10_macro_final.sh fixed_arc, 24 layers: per layer its
    // op, then one skip bit per earlier layer). Not a genotype: its text is a macro arc's, which
    // search/nas's enas_macro_resolve takes (tests/darts/test_enas_macro checks the two agree).
    {"ENAS_MACRO",
     "enas-macro: 0 3 0 0 1 0 2 0 0 1 2 0 0 0 0 3 1 1 0 1 0 2 0 0 0 0 0 1 2 0 1 1 0 1 1 1 "
     "1 0 1 1 1 0 1 0 1 0 0 0 0 0 0 0 0 0 0 2 0 0 0 0 0 1 0 0 0 0 0 1 0 0 1 1 0 0 0 0 1 1 "
     "2 0 1 0 0 0 0 0 1 0 1 1 0 1 0 0 1 0 0 0 1 1 1 0 1 0 1 0 1 1 0 1 0 1 0 0 0 0 0 1 0 0 "
     "2 0 0 1 0 0 0 0 0 0 0 1 0 1 0 1 2 0 1 0 0 0 1 0 0 1 1 1 1 0 0 1 0 "
     "2 0 0 0 0 1 0 1 0 1 0 0 1 0 1 0 0 1 3 0 1 1 0 1 0 0 0 0 0 1 0 1 0 1 0 0 0 "
     "3 0 1 1 0 0 0 0 0 0 0 0 0 1 1 0 0 0 0 1 0 1 0 0 1 0 1 1 0 0 0 1 0 0 0 0 0 1 1 0 0 "
     "3 0 1 0 1 1 0 0 1 0 1 1 0 1 1 0 1 0 0 1 0 0 0 1 0 1 0 1 0 0 0 0 0 0 0 0 1 0 1 0 0 1 0 0 0 "
     "0 1 1 0 0 0 1 1 1 0 1 0 0 0 1 0 1 0 0 1 1 0 0 0"},
};

const char *genotype_named(const char *name) {
    if (!strcmp(name, "DARTS")) name = "DARTS_V2";  // genotypes.py: DARTS = DARTS_V2
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (!strcmp(named[i].name, name)) return named[i].text;
    return NULL;
}

// ---- parser: recursive descent over the text, errors carry the character position -----------
typedef struct {
    const char *s;
    size_t pos;
} cursor;

static void skip_ws(cursor *c) {
    while (c->s[c->pos] && isspace((unsigned char)c->s[c->pos])) c->pos++;
}

static int fail_at(const cursor *c, const char *expected) {
    char found[24];
    if (!c->s[c->pos])
        snprintf(found, sizeof found, "end of text");
    else
        snprintf(found, sizeof found, "'%.12s'", c->s + c->pos);
    return gh_fail(GH_EFORMAT, "genotype text, position %zu: expected %s, found %s", c->pos,
                   expected, found);
}

static int accept(cursor *c, char ch) {
    skip_ws(c);
    if (c->s[c->pos] != ch) return 0;
    c->pos++;
    return 1;
}

static int expect(cursor *c, char ch, const char *what) {
    return accept(c, ch) ? GH_OK : fail_at(c, what);
}

static int parse_int(cursor *c, int *v) {
    skip_ws(c);
    if (!isdigit((unsigned char)c->s[c->pos])) return fail_at(c, "a non-negative integer");
    long x = 0;
    while (isdigit((unsigned char)c->s[c->pos])) {
        x = x * 10 + (c->s[c->pos++] - '0');
        if (x > 1000) return fail_at(c, "a node index below 1000");
    }
    *v = (int)x;
    return GH_OK;
}

static int parse_word(cursor *c, const char **w, size_t *len) {
    skip_ws(c);
    size_t p = c->pos;
    while (isalnum((unsigned char)c->s[p]) || c->s[p] == '_') p++;
    if (p == c->pos) return fail_at(c, "a name");
    *w = c->s + c->pos;
    *len = p - c->pos;
    c->pos = p;
    return GH_OK;
}

// ('op_name', index)
static int parse_edge(cursor *c, geno_edge *e) {
    int st;
    if ((st = expect(c, '(', "'(' opening an edge"))) return st;
    skip_ws(c);
    char q = c->s[c->pos];
    if (q != '\'' && q != '"') return fail_at(c, "a quoted op name");
    size_t start = ++c->pos;
    while (c->s[c->pos] && c->s[c->pos] != q) c->pos++;
    if (!c->s[c->pos]) return fail_at(c, "the closing quote of the op name");
    int op = darts_op_lookup(c->s + start, c->pos - start);
    if (op < 0) {
        c->pos = start;
        return fail_at(c, "an op name of the DARTS search space (none, max_pool_3x3, "
                          "avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, "
                          "dil_conv_3x3, dil_conv_5x5, sep_conv_7x7, conv_7x1_1x7)");
    }
    c->pos++;
    if ((st = expect(c, ',', "',' between op name and input index"))) return st;
    if ((st = parse_int(c, &e->input))) return st;
    accept(c, ',');
    if ((st = expect(c, ')', "')' closing the edge"))) return st;
    e->op = op;
    return GH_OK;
}

static int parse_edges(cursor *c, geno_cell *cell) {
    int st, n = 0;
    if ((st = expect(c, '[', "'[' opening the edge list"))) return st;
    while (!accept(c, ']')) {
        if (n == 2 * GENO_MAX_STEPS) return fail_at(c, "at most 16 edges (8 nodes)");
        if ((st = parse_edge(c, &cell->edge[n++]))) return st;
        if (!accept(c, ',')) {
            if ((st = expect(c, ']', "',' or ']' after an edge"))) return st;
            break;
        }
    }
    if (n == 0 || n % 2) return fail_at(c, "an even, non-zero number of edges (2 per node)");
    cell->steps = n / 2;
    return GH_OK;
}

// [2, 3, 4, 5] or range(2, 6)
static int parse_concat(cursor *c, geno_cell *cell) {
    int st, n = 0;
    skip_ws(c);
    if (!strncmp(c->s + c->pos, "range", 5)) {
        int a, b;
        c->pos += 5;
        if ((st = expect(c, '(', "'(' after range"))) return st;
        if ((st = parse_int(c, &a))) return st;
        if ((st = expect(c, ',', "',' in range(start, stop)"))) return st;
        if ((st = parse_int(c, &b))) return st;
        if ((st = expect(c, ')', "')' closing range"))) return st;
        if (b <= a || b - a > GENO_MAX_STEPS + 2) return fail_at(c, "a range of 1 to 10 nodes");
        for (int v = a; v < b; v++) cell->concat[n++] = v;
        cell->nconcat = n;
        return GH_OK;
    }
    if ((st = expect(c, '[', "'[' or range( opening the concat list"))) return st;
    while (!accept(c, ']')) {
        if (n == GENO_MAX_STEPS + 2) return fail_at(c, "at most 10 concatenated nodes");
        if ((st = parse_int(c, &cell->concat[n++]))) return st;
        if (!accept(c, ',')) {
            if ((st = expect(c, ']', "',' or ']' in the concat list"))) return st;
            break;
        }
    }
    if (n == 0) return fail_at(c, "a non-empty concat list");
    cell->nconcat = n;
    return GH_OK;
}

int genotype_parse(genotype *g, const char *text) {
    cursor c = {text, 0};
    int st, seen[4] = {0};
    static const char *const fields[4] = {"normal", "normal_concat", "reduce", "reduce_concat"};
    memset(g, 0, sizeof *g);
    skip_ws(&c);
    if (!strncmp(text + c.pos, "Genotype", 8)) c.pos += 8;
    if ((st = expect(&c, '(', "'(' after Genotype"))) return st;
    for (int k = 0; k < 4; k++) {
        const char *w = NULL;
        size_t len = 0;
        size_t at = (skip_ws(&c), c.pos);
        if ((st = parse_word(&c, &w, &len))) return st;
        int f = -1;
        for (int i = 0; i < 4; i++)
            if (strlen(fields[i]) == len && !strncmp(fields[i], w, len)) f = i;
        if (f < 0 || seen[f]) {
            c.pos = at;
            return fail_at(&c, f < 0 ? "one of normal, normal_concat, reduce, reduce_concat"
                                     : "each field once");
        }
        seen[f] = 1;
        if ((st = expect(&c, '=', "'=' after the field name"))) return st;
        geno_cell *cell = f < 2 ? &g->normal : &g->reduce;
        st = (f % 2 == 0) ? parse_edges(&c, cell) : parse_concat(&c, cell);
        if (st) return st;
        if (k < 3 && (st = expect(&c, ',', "',' between fields"))) return st;
    }
    accept(&c, ',');
    if ((st = expect(&c, ')', "')' closing the genotype"))) return st;
    skip_ws(&c);
    if (text[c.pos]) return fail_at(&c, "end of text");
    return genotype_validate(g);
}

static int validate_cell(const geno_cell *cell, const char *which) {
    for (int i = 0; i < 2 * cell->steps; i++) {
        int node = 2 + i / 2;
        if (cell->edge[i].op < 0 || cell->edge[i].op >= DARTS_NUM_GENO_OPS)
            return gh_fail(GH_EFORMAT, "genotype %s edge %d: unknown op %d", which, i,
                           cell->edge[i].op);
        if (cell->edge[i].input >= node)
            return gh_fail(GH_EFORMAT,
                           "genotype %s edge %d ('%s', %d): node %d can only take inputs 0..%d",
                           which, i, darts_ops[cell->edge[i].op].name, cell->edge[i].input, node,
                           node - 1);
    }
    for (int i = 0; i < cell->nconcat; i++)
        if (cell->concat[i] < 0 || cell->concat[i] >= 2 + cell->steps)
            return gh_fail(GH_EFORMAT, "genotype %s_concat: node %d outside 0..%d", which,
                           cell->concat[i], 1 + cell->steps);
    return GH_OK;
}

int genotype_validate(const genotype *g) {
    int st = validate_cell(&g->normal, "normal");
    return st ? st : validate_cell(&g->reduce, "reduce");
}

// ---- printer: the repr of DARTS's Genotype namedtuple with list concats -----------------------
typedef struct {
    char *out;
    size_t len, n;
} sink;

static void put(sink *s, const char *fmt, const char *a, int b) {
    char tmp[64];
    int k = a ? snprintf(tmp, sizeof tmp, fmt, a, b) : snprintf(tmp, sizeof tmp, fmt, b);
    if (s->n < s->len) snprintf(s->out + s->n, s->len - s->n, "%s", tmp);
    s->n += (size_t)k;
}

// An op index outside the genotype ops prints as "?" rather than indexing past the table (a
// genotype that was never filled in, as a search of zero epochs once produced).
static void put_cell(sink *s, const geno_cell *cell, const char *name) {
    put(s, "%s=[", name, 0);
    int steps = cell->steps >= 0 && cell->steps <= GENO_MAX_STEPS ? cell->steps : 0;
    for (int i = 0; i < 2 * steps; i++) {
        int op = cell->edge[i].op;
        put(s, i ? ", ('%s', %d)" : "('%s', %d)",
            op >= 0 && op < DARTS_NUM_GENO_OPS ? darts_ops[op].name : "?", cell->edge[i].input);
    }
    put(s, "], %s_concat=[", name, 0);
    int nc = cell->nconcat >= 0 && cell->nconcat <= GENO_MAX_STEPS + 2 ? cell->nconcat : 0;
    for (int i = 0; i < nc; i++) put(s, i ? ", %d" : "%d", NULL, cell->concat[i]);
    put(s, "]", NULL, 0);
}

int genotype_print(const genotype *g, char *out, size_t len) {
    sink s = {out, len, 0};
    if (len) out[0] = 0;
    put(&s, "Genotype(", NULL, 0);
    put_cell(&s, &g->normal, "normal");
    put(&s, ", ", NULL, 0);
    put_cell(&s, &g->reduce, "reduce");
    put(&s, ")", NULL, 0);
    return (int)s.n;
}

static int cell_equal(const geno_cell *a, const geno_cell *b) {
    if (a->steps != b->steps || a->nconcat != b->nconcat) return 0;
    for (int i = 0; i < 2 * a->steps; i++)
        if (a->edge[i].op != b->edge[i].op || a->edge[i].input != b->edge[i].input) return 0;
    for (int i = 0; i < a->nconcat; i++)
        if (a->concat[i] != b->concat[i]) return 0;
    return 1;
}

int genotype_equal(const genotype *a, const genotype *b) {
    return cell_equal(&a->normal, &b->normal) && cell_equal(&a->reduce, &b->reduce);
}
