// nas_ckpt: the NAS layer's checkpoints beside a run file: the blob every checkpoint carries
// ("nas/run": what the run does, its phase, the phase's cost so far), the final training's state
// between and within seeds ("final/state"), and --resume's reading of a run and its checkpoint
// (nas_resume_open). The methods write their own state blobs (darts.c, random_ws.c).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nas_internal.h"

_Static_assert(sizeof(nas_pos_blob) == 32, "nas_pos_blob has padding: its bytes are a blob");
_Static_assert(sizeof(cost_totals) == 6 * sizeof(double), "cost_totals is six doubles");

#define RUN_MAGIC "GHNASRN1"
#define RUN_VERSION 1u

// "nas/run": in every checkpoint of a NAS run.
typedef struct {
    char magic[8];
    uint32_t version;
    int32_t what;                // NAS_DO_SEARCH | NAS_DO_FINAL
    int32_t phase;               // the phase it was taken in
    int32_t pad;
    double cost[6];              // that phase's cost_totals so far (all sessions)
} run_blob;
_Static_assert(sizeof(run_blob) == 72, "run_blob has padding: its bytes are a blob");

#define FINAL_MAGIC "GHFINAL1"
#define FINAL_VERSION 1u
#define FINAL_MAX_SEEDS NAS_MAX_SEEDS   // a blob layout constant: 64 (checked below)
_Static_assert(NAS_MAX_SEEDS == 64, "final/state's layout holds 64 seeds: version it to change");

// "final/state": the final training over seeds.
typedef struct {
    char magic[8];
    uint32_t version;
    int32_t index;               // the seed being trained (nseeds: all trained)
    int32_t nseeds;
    int32_t training;            // 1: within seed index's training, at pos, engine blobs present
    uint64_t seeds[FINAL_MAX_SEEDS];
    double acc[FINAL_MAX_SEEDS]; // test accuracies of the seeds before index
    nas_pos_blob pos;
    double train_loss, train_acc, eval_loss, eval_acc;   // seed index's results so far
    char genotype[2048];         // the genotype trained (text)
} final_blob;
_Static_assert(sizeof(final_blob) == 24 + 16 * FINAL_MAX_SEEDS + 32 + 32 + 2048,
               "final_blob has padding: its bytes are a blob");

cost_totals nas_cost_none(void) {
    return (cost_totals){NAN, NAN, NAN, NAN, NAN, NAN};
}

nas_pos_blob nas_pos_pack(const gh_train_pos *p) {
    return (nas_pos_blob){.epoch = p->epoch, .step = p->step, .seen = p->seen,
                          .loss_sum = p->loss_sum, .hits = p->hits};
}

gh_train_pos nas_pos_unpack(const nas_pos_blob *b) {
    return (gh_train_pos){.epoch = b->epoch, .step = b->step, .seen = (long)b->seen,
                          .loss_sum = b->loss_sum, .hits = b->hits};
}

void nas_pos_resume_dp(gh_train_pos *pos, int dp) {
    if (!dp || pg_world()->rank == 0) return;
    pos->seen = 0;
    pos->loss_sum = pos->hits = 0;
}

int nas_blob_check(const ledger_ckpt_reader *r, const char *blob, const char *magic,
                   uint32_t version, const char *want_magic, uint32_t want_version) {
    if (memcmp(magic, want_magic, 8))
        return gh_fail(GH_EFORMAT, "checkpoint of %s: blob '%s' does not start with magic '%s'",
                       ledger_ckpt_run_id(r), blob, want_magic);
    if (version != want_version)
        return gh_fail(GH_EFORMAT, "checkpoint of %s: blob '%s' is version %u; this gpuhours "
                       "reads version %u", ledger_ckpt_run_id(r), blob, version, want_version);
    return GH_OK;
}

int nas_ckpt_begin(const nas_ckpt *ck, struct ledger *l, int phase, int64_t step,
                   const cost_totals *cost, ledger_ckpt_writer **w) {
    *w = NULL;
    if (!ck || !l) return GH_OK;
    run_blob b = {.version = RUN_VERSION, .what = ck->what, .phase = phase};
    memcpy(b.magic, RUN_MAGIC, sizeof b.magic);
    memcpy(b.cost, cost, sizeof b.cost);
    int st = ledger_ckpt_begin(w, l, ck->method, ck->config_text, step);
    if (!st && (st = ledger_ckpt_put(*w, "nas/run", &b, sizeof b))) {
        ledger_ckpt_abort(*w);
        *w = NULL;
    }
    return st;
}

int nas_ckpt_end(const nas_ckpt *ck, ledger_ckpt_writer *w, int st, const nas_ckpt_point *at) {
    if (!w) return st;
    if (st) {
        ledger_ckpt_abort(w);   // the previous checkpoint stays
        return st;
    }
    if ((st = ledger_ckpt_commit(w))) return st;
    return ck->written ? ck->written(ck->written_ctx, at) : GH_OK;
}

ledger_ckpt_reader *nas_ckpt_from(const nas_ckpt *ck, int phase) {
    return ck && ck->from && ck->phase == phase ? ck->from : NULL;
}

// ---- the final training's checkpoints ----------------------------------------------------------
static int final_read(const ledger_ckpt_reader *r, final_blob *b) {
    int st = ledger_ckpt_get((ledger_ckpt_reader *)r, "final/state", b, sizeof *b);
    if (!st) st = nas_blob_check(r, "final/state", b->magic, b->version, FINAL_MAGIC,
                                 FINAL_VERSION);
    if (!st && (b->nseeds < 1 || b->nseeds > FINAL_MAX_SEEDS || b->index < 0 ||
                b->index > b->nseeds || (b->training && b->index == b->nseeds) ||
                !memchr(b->genotype, 0, sizeof b->genotype)))
        st = gh_fail(GH_EFORMAT, "checkpoint of %s: blob 'final/state' is inconsistent (seed "
                     "%d of %d)", ledger_ckpt_run_id(r), b->index, b->nseeds);
    return st;
}

int nas_final_ckpt_open(nas_final_ckpt *f, const nas_ckpt *ck, struct ledger *l,
                        const char *arch, const uint64_t *seeds, int nseeds, double *acc,
                        double every_s, int *first) {
    memset(f, 0, sizeof *f);
    f->ck = ck;
    f->l = l;
    f->seeds = seeds;
    f->nseeds = nseeds;
    f->acc = acc;
    f->every_s = every_s;
    snprintf(f->genotype, sizeof f->genotype, "%s", arch);
    *first = 0;
    if (nseeds > FINAL_MAX_SEEDS)
        return gh_fail(GH_EINVAL, "final training: %d seeds, at most %d", nseeds,
                       FINAL_MAX_SEEDS);
    ledger_ckpt_reader *r = nas_ckpt_from(ck, NAS_DO_FINAL);
    if (!r) return GH_OK;
    final_blob b;
    int st = final_read(r, &b);
    if (st) return st;
    int same = b.nseeds == nseeds && !strcmp(b.genotype, f->genotype);
    for (int i = 0; same && i < nseeds; i++) same = b.seeds[i] == seeds[i];
    if (!same)
        return gh_fail(GH_EFORMAT, "checkpoint of %s: the final training it holds (%d seeds, "
                       "genotype %.60s...) is not this run's", ledger_ckpt_run_id(r), b.nseeds,
                       b.genotype);
    for (int i = 0; i < b.index; i++) acc[i] = b.acc[i];
    *first = b.index;
    f->resume_training = b.training;
    f->pos = nas_pos_unpack(&b.pos);
    f->sofar = (nas_train_result){.train_loss = b.train_loss, .train_acc = b.train_acc,
                                  .eval_loss = b.eval_loss, .eval_acc = b.eval_acc,
                                  .cost = ck->cost0};
    return GH_OK;
}

// Writes "final/state" (and the engine within a training) as a checkpoint of seed f->index.
// step: the training steps done (0 between seeds).
static int final_save(nas_final_ckpt *f, gh_engine *e, const gh_train_pos *pos, int64_t step,
                      const nas_train_result *sofar) {
    cost_totals cost = sofar ? sofar->cost : nas_cost_none();
    ledger_ckpt_writer *w;
    int st = nas_ckpt_begin(f->ck, f->l, NAS_DO_FINAL, step, &cost, &w);
    if (st || !w) return st;
    final_blob b;
    memset(&b, 0, sizeof b);
    memcpy(b.magic, FINAL_MAGIC, sizeof b.magic);
    b.version = FINAL_VERSION;
    b.index = f->index;
    b.nseeds = f->nseeds;
    b.training = e != NULL;
    for (int i = 0; i < f->nseeds; i++) b.seeds[i] = f->seeds[i];
    for (int i = 0; i < f->index; i++) b.acc[i] = f->acc[i];
    if (pos) b.pos = nas_pos_pack(pos);
    b.train_loss = b.train_acc = b.eval_loss = b.eval_acc = NAN;
    if (sofar) {
        b.train_loss = sofar->train_loss;
        b.train_acc = sofar->train_acc;
        b.eval_loss = sofar->eval_loss;
        b.eval_acc = sofar->eval_acc;
    }
    memcpy(b.genotype, f->genotype, sizeof b.genotype);
    if (e) st = gh_engine_state_save(e, ledger_ckpt_put_cb, w);
    if (!st) st = ledger_ckpt_put(w, "final/state", &b, sizeof b);
    nas_ckpt_point at = {.phase = NAS_DO_FINAL, .unit = f->index, .training = e != NULL};
    if (pos) at.pos = *pos;
    return nas_ckpt_end(f->ck, w, st, &at);
}

int nas_final_ckpt_mark(nas_final_ckpt *f, int index) {
    f->index = index;
    return final_save(f, NULL, NULL, 0, NULL);
}

static int final_hook_save(void *ctx, gh_engine *e, const gh_train_pos *pos, int64_t step,
                           const nas_train_result *sofar) {
    return final_save(ctx, e, pos, step, sofar);
}

static int final_hook_load(void *ctx, gh_engine *e, gh_train_pos *pos, nas_train_result *sofar) {
    nas_final_ckpt *f = ctx;
    int st = gh_engine_state_load(e, ledger_ckpt_get_cb, f->ck->from);
    if (st) return st;
    *pos = f->pos;
    *sofar = f->sofar;
    return GH_OK;
}

const nas_train_ckpt *nas_final_ckpt_hooks(nas_final_ckpt *f, int index, int first) {
    int resume = index == first && f->resume_training;
    // without a ledger nothing is written (final_save), but a data-parallel rank > 0 (no ledger)
    // still continues the training from the checkpoint as rank 0 does
    if (!f->ck || (!f->l && !resume)) return NULL;
    f->index = index;
    f->hooks = (nas_train_ckpt){.every_s = f->every_s, .save = final_hook_save, .ctx = f};
    if (resume) f->hooks.load = final_hook_load;
    return &f->hooks;
}

// ---- --resume ----------------------------------------------------------------------------------
void nas_resume_close(nas_ckpt *ck) {
    ledger_ckpt_close(ck->from);
    ck->from = NULL;
}

// The run's method, config text and status (copies) from a read-only open.
static int read_run(const char *path, char *method, size_t mlen, char **text, int *finished) {
    ledger *l = NULL;
    int st = ledger_open_read(&l, path);
    if (st) return st;
    const char *m = ledger_attr(l, "method"), *t = ledger_attr(l, "config_text");
    const char *s = ledger_attr(l, "status");
    snprintf(method, mlen, "%s", m ? m : "");
    *text = strdup(t ? t : "");
    *finished = s && !strcmp(s, "finished");
    ledger_close(l, NULL);
    return *text ? GH_OK : gh_fail(GH_ENOMEM, "%s: config text", path);
}

int nas_resume_open(const char *path, const char *method, nas_config *c, nas_ckpt *ck) {
    memset(ck, 0, sizeof *ck);
    char label[64], err[1024];
    char *text = NULL;
    int finished = 0;
    int st = read_run(path, label, sizeof label, &text, &finished);
    if (st) return st;
    nas_config_defaults(c);
    if (nas_config_load_text(c, text, path)) {
        st = gh_fail(GH_EINVAL, "%s: a run of method '%s', not of a NAS command (search, train "
                     "--genotype, reproduce): its config_text is not a NAS config", path, label);
        goto done;
    }
    int final_only = !strcmp(label, NAS_FINAL_LABEL);
    if (!final_only && strcmp(label, nas_method_label(c))) {
        st = gh_fail(GH_EFORMAT, "%s: root attribute 'method' is '%s' but its config is of "
                     "method '%s'", path, label, nas_method_label(c));
        goto done;
    }
    if (method && (final_only || strcmp(c->method, method))) {
        st = gh_fail(GH_EINVAL, "%s: a run of method '%s' (%s), not %s: resume it with the "
                     "command that started it", path, label,
                     final_only ? "final training: gpuhours train --genotype" : c->method,
                     method);
        goto done;
    }
    if (finished) {
        st = gh_fail(GH_EINVAL, "%s: the run finished (status 'finished'): nothing to resume",
                     path);
        goto done;
    }
    if ((st = ledger_resume_check(path, label, &ck->from))) {
        const nas_method *m = final_only ? NULL : nas_method_find(c->method);
        if (st == GH_EIO && m && !m->checkpoints) {
            snprintf(err, sizeof err, "%s", gh_error_get());
            st = gh_fail(GH_EIO, "%s (method %s writes no checkpoints during its search; "
                         "--resume continues the searches that do and final training)", err,
                         m->name);
        }
        goto done;
    }
    ledger_ckpt_reader *r = ck->from;
    if (strcmp(ledger_ckpt_config_text(r), text)) {
        st = gh_fail(GH_EFORMAT, "%s%s: its config_text differs from the run's", path,
                     LEDGER_CKPT_SUFFIX);
        goto done;
    }
    run_blob b;
    if ((st = ledger_ckpt_get(r, "nas/run", &b, sizeof b)) ||
        (st = nas_blob_check(r, "nas/run", b.magic, b.version, RUN_MAGIC, RUN_VERSION)))
        goto done;
    if (b.what < 1 || b.what > 3 || (b.phase != NAS_DO_SEARCH && b.phase != NAS_DO_FINAL) ||
        !(b.what & b.phase) || (final_only && b.what != NAS_DO_FINAL)) {
        st = gh_fail(GH_EFORMAT, "%s%s: blob 'nas/run' is inconsistent (what %d, phase %d)",
                     path, LEDGER_CKPT_SUFFIX, b.what, b.phase);
        goto done;
    }
    ck->method = ledger_ckpt_method(r);
    ck->config_text = ledger_ckpt_config_text(r);
    ck->what = b.what;
    ck->phase = b.phase;
    memcpy(&ck->cost0, b.cost, sizeof b.cost);
    if (b.phase == NAS_DO_FINAL) {
        final_blob fb;
        if ((st = final_read(r, &fb))) goto done;
        memcpy(ck->genotype, fb.genotype, sizeof ck->genotype);
    }
done:
    free(text);
    if (st) nas_resume_close(ck);
    return st;
}
