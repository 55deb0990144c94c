// engine: the ops of an RNN controller (ENAS, NASNet-RL): the pointwise LSTM cell, embedding
// lookup, categorical sampling (not differentiable: no tape entry) and the log-probability and
// entropy of the sampled choices that a REINFORCE loss is made of.
#include "engine_internal.h"

// ---- LSTM cell: two outputs, c and h -------------------------------------------------------------
// Each output has a tape entry (the reverse pass visits entries by output). Every consumer of
// c or h comes later on the tape, so when the first of the two entries is reached both
// gradients are complete: the h entry (pushed last, visited first) does the whole backward with
// dc and dh, and the c entry runs only when h received no gradient.

static int lstm_bwd(gh_engine *e, const tape_entry *t, const float *dc, const float *dh) {
    gh_tensor *gates = t->in[0], *c_prev = t->in[1];
    float *dg = grad_of(e, "lstm_cell backward", gates);
    float *dcp = grad_of(e, "lstm_cell backward", c_prev);
    if (e->status) return e->status;
    if (!dg && !dcp) return GH_OK;
    return KCALL(e, lstm_cell_bwd, c_prev->shape[0], c_prev->shape[1], c_prev->data, t->save[0],
                 dc, dh, dg, dcp);
}

static int lstm_h_bwd_entry(gh_engine *e, const tape_entry *t) {
    return lstm_bwd(e, t, t->in[2]->grad, t->out->grad);
}

static int lstm_c_bwd_entry(gh_engine *e, const tape_entry *t) {
    if (t->in[2]->grad) return GH_OK;   // the h entry has done it
    return lstm_bwd(e, t, t->out->grad, NULL);
}

gh_tensor *gh_lstm_cell(gh_engine *e, gh_tensor *gates, gh_tensor *c_prev, gh_tensor **c_out) {
    if (c_out) *c_out = NULL;
    if (!op_in(e, "lstm_cell", "gates", gates) || !op_in(e, "lstm_cell", "c_prev", c_prev))
        return NULL;
    if (!c_out) {
        eng_fail(e, GH_EINVAL, "lstm_cell: c_out is NULL (the new cell state is an output)");
        return NULL;
    }
    if (c_prev->ndim != 2 || gates->ndim != 2 || gates->shape[0] != c_prev->shape[0] ||
        gates->shape[1] != 4 * c_prev->shape[1]) {
        eng_fail(e, GH_EINVAL, "lstm_cell: gates %s and c_prev %s: expected gates [batch, "
                 "4*hidden] (i, f, g, o) and c_prev [batch, hidden]", shp(gates).s,
                 shp(c_prev).s);
        return NULL;
    }
    int batch = c_prev->shape[0], hidden = c_prev->shape[1];
    gh_tensor *src[2] = {gates, c_prev};
    gh_tensor *c = new_tensor(e, "lstm_cell", 2, c_prev->shape, src, 2);
    gh_tensor *h = c ? new_tensor(e, "lstm_cell", 2, c_prev->shape, src, 2) : NULL;
    if (!h) return NULL;
    float *cache = NULL;
    if (h->requires_grad) {
        cache = arena_alloc(e, "lstm_cell",
                            (size_t)batch * hidden * GH_LSTM_CACHE * sizeof(float));
        if (!cache) return NULL;
    }
    if (KCALL(e, lstm_cell_fwd, batch, hidden, gates->data, c_prev->data, c->data, h->data,
              cache))
        return NULL;
    if (h->requires_grad) {
        tape_entry *tc = tape_push(e, "lstm_cell", lstm_c_bwd_entry, c);
        if (!tc) return NULL;
        tc->in[0] = gates;
        tc->in[1] = c_prev;
        tc->in[2] = h;
        tc->save[0] = cache;
        tape_entry *th = tape_push(e, "lstm_cell", lstm_h_bwd_entry, h);
        if (!th) return NULL;
        th->in[0] = gates;
        th->in[1] = c_prev;
        th->in[2] = c;
        th->save[0] = cache;
    }
    *c_out = c;
    return h;
}

// ---- embedding ---------------------------------------------------------------------------------

static int embedding_bwd_entry(gh_engine *e, const tape_entry *t) {
    gh_tensor *table = t->in[0];
    float *dt = grad_of(e, "embedding backward", table);
    if (!dt) return e->status;
    return KCALL(e, embedding_bwd, t->out->shape[0], table->shape[0], table->shape[1], t->labels,
                 t->out->grad, dt);
}

gh_tensor *gh_embedding(gh_engine *e, gh_tensor *table, int n, const int *idx) {
    if (!op_in(e, "embedding", "table", table)) return NULL;
    if (table->ndim != 2) {
        eng_fail(e, GH_EINVAL, "embedding: table %s must be [vocab, dim]", shp(table).s);
        return NULL;
    }
    if (n <= 0 || !idx) {
        if (e->status == GH_OK)
            eng_fail(e, GH_EINVAL, "embedding: %d indices at %p into table %s (expected n > 0 "
                     "and indices from gh_labels or gh_categorical_sample)", n,
                     (const void *)idx, shp(table).s);
        return NULL;
    }
    int vocab = table->shape[0], dim = table->shape[1];
    gh_tensor *y = new_tensor(e, "embedding", 2, (int[]){n, dim}, &table, 1);
    if (!y) return NULL;
    if (KCALL(e, embedding_fwd, n, vocab, dim, idx, table->data, y->data)) return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, "embedding", embedding_bwd_entry, y);
        if (!t) return NULL;
        t->in[0] = table;
        t->labels = idx;
    }
    return y;
}

// ---- sampling, log-probability, entropy ------------------------------------------------------------

static int rows_of(gh_engine *e, const char *op, const gh_tensor *logits) {
    if (logits->ndim != 2)
        return !eng_fail(e, GH_EINVAL, "%s: logits %s must be [rows, choices]", op,
                         shp(logits).s);
    return 1;
}

const int *gh_categorical_sample(gh_engine *e, gh_tensor *logits, float temperature,
                                 float tanh_c, uint64_t seed, int *host_idx) {
    if (!op_in(e, "categorical_sample", "logits", logits) ||
        !rows_of(e, "categorical_sample", logits))
        return NULL;
    int rows = logits->shape[0], cols = logits->shape[1];
    int *idx = arena_alloc(e, "categorical_sample", (size_t)rows * sizeof(int));
    if (!idx) return NULL;
    if (KCALL(e, categorical_sample, rows, cols, logits->data, temperature, tanh_c, seed, idx,
              NULL, NULL))
        return NULL;
    if (host_idx && eng_check(e, dev_d2h(e, host_idx, idx, (size_t)rows * sizeof(int))))
        return NULL;
    return idx;
}

static int logprob_bwd_entry(gh_engine *e, const tape_entry *t) {
    gh_tensor *x = t->in[0];
    float *dx = grad_of(e, "log_prob backward", x);
    if (!dx) return e->status;
    return KCALL(e, logprob_entropy_bwd, x->shape[0], x->shape[1], x->data, t->labels,
                 t->out->grad, NULL, dx);
}

static int entropy_bwd_entry(gh_engine *e, const tape_entry *t) {
    gh_tensor *x = t->in[0];
    float *dx = grad_of(e, "entropy backward", x);
    if (!dx) return e->status;
    return KCALL(e, logprob_entropy_bwd, x->shape[0], x->shape[1], x->data, NULL, NULL,
                 t->out->grad, dx);
}

// log_prob (idx non-NULL) or entropy (idx NULL) of each row: a [rows] tensor
static gh_tensor *row_stat(gh_engine *e, const char *op, gh_tensor *logits, const int *idx) {
    if (!op_in(e, op, "logits", logits) || !rows_of(e, op, logits)) return NULL;
    int rows = logits->shape[0], cols = logits->shape[1];
    gh_tensor *y = new_tensor(e, op, 1, &rows, &logits, 1);
    if (!y) return NULL;
    if (KCALL(e, logprob_entropy_fwd, rows, cols, logits->data, idx, idx ? y->data : NULL,
              idx ? NULL : y->data))
        return NULL;
    if (y->requires_grad) {
        tape_entry *t = tape_push(e, op, idx ? logprob_bwd_entry : entropy_bwd_entry, y);
        if (!t) return NULL;
        t->in[0] = logits;
        t->labels = idx;
    }
    return y;
}

gh_tensor *gh_log_prob(gh_engine *e, gh_tensor *logits, const int *idx) {
    if (!idx) {
        if (e->status == GH_OK)
            eng_fail(e, GH_EINVAL, "log_prob: indices are NULL (logits %s)",
                     logits ? shp(logits).s : "NULL");
        return NULL;
    }
    return row_stat(e, "log_prob", logits, idx);
}

gh_tensor *gh_entropy(gh_engine *e, gh_tensor *logits) {
    return row_stat(e, "entropy", logits, NULL);
}
