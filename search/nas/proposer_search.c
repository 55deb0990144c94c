// proposer_search: the one loop of the methods whose proposers give whole genotypes trained from
// scratch (random sampling, regularized evolution, the NASNet controller): ask, evaluate, tell,
// one trial row per child, a diverged child recorded as "nan" without stopping the search, and
// the proposer checkpointed after every row so that a killed search resumes with its population
// or controller. Children train where a nas_children says: in this process one at a time, or on
// the worker ranks of an MPI group (nas_workers.c) several at once, told as they finish
// (asynchronous) or in rounds of sync_batch told in id order (the same trials on any number of
// workers). A wall-seconds budget stops the asking once the time left is less than a child's
// mean seconds; children in flight finish.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dist/dist.h"
#include "nas_internal.h"

nas_proposer_options nas_run_proposer_options(const nas_run *r) {
    const nas_config *c = r->c;
    int space = nas_space_parse(c->space), algorithm = nas_rl_algorithm_parse(c->rl.algorithm);
    return (nas_proposer_options){
        .seed = c->seed, .max_proposals = c->random.archs, .steps = r->nc.steps,
        .multiplier = r->nc.multiplier, .space = space < 0 ? NAS_SPACE_DARTS : space,
        .population = c->regevo.population, .sample = c->regevo.sample, .batch = c->rl.batch,
        .lr = c->rl.lr, .entropy = c->rl.entropy, .baseline_decay = c->rl.baseline_decay,
        .algorithm = algorithm < 0 ? NAS_RL_PPO : algorithm, .clip = c->rl.ppo_clip,
        .epochs = c->rl.ppo_epochs};
}

// ---- children in this process: one slot, trained when waited for ------------------------------
typedef struct {
    nas_children base;
    nas_evaluator *ev;
    nas_proposal q;
} local_children;

static int local_submit(nas_children *x, const nas_proposal *q) {
    ((local_children *)x)->q = *q;
    return GH_OK;
}

static int local_wait(nas_children *x, nas_child_done *out) {
    local_children *lc = (local_children *)x;
    out->q = lc->q;
    out->error[0] = 0;
    out->st = nas_evaluator_run(lc->ev, &lc->q.g, lc->q.id, &out->res);
    if (out->st) snprintf(out->error, sizeof out->error, "%s", gh_error_get());
    return GH_OK;
}

static void local_close(nas_children *x) { (void)x; }

// ---- checkpoints -------------------------------------------------------------------------------
// "<prefix>/inflight": the children asked and not told when the checkpoint was taken (only an
// asynchronous search with several workers has any): a resumed search trains them again first.
typedef struct {
    int64_t id;
    char g[2048];
} inflight_blob;
_Static_assert(sizeof(inflight_blob) == 8 + 2048, "inflight_blob has padding");

// A checkpoint between children: the search's cost so far, the proposer, the children in flight.
static int save(const nas_run *r, const nas_proposer *p, const char *prefix,
                const nas_proposal *fly, int nfly) {
    cost_totals cost = nas_run_cost(r);
    ledger_ckpt_writer *w;
    int st = nas_ckpt_begin(r->ck, r->l, NAS_DO_SEARCH, p->n_told, &cost, &w);
    if (st || !w) return st;
    char name[96];
    snprintf(name, sizeof name, "%s/proposer", prefix);
    st = nas_proposer_save(p, name, ledger_ckpt_put_cb, w);
    if (!st && nfly > 0) {
        inflight_blob *b = calloc((size_t)nfly, sizeof *b);
        if (!b) st = gh_fail(GH_ENOMEM, "checkpoint: %d children in flight", nfly);
        for (int i = 0; !st && i < nfly; i++) {
            b[i].id = fly[i].id;
            genotype_print(&fly[i].g, b[i].g, sizeof b[i].g);
        }
        snprintf(name, sizeof name, "%s/inflight", prefix);
        if (!st) st = ledger_ckpt_put(w, name, b, (size_t)nfly * sizeof *b);
        free(b);
    }
    nas_ckpt_point at = {.phase = NAS_DO_SEARCH, .unit = p->n_told + 1, .training = 0};
    return nas_ckpt_end(r->ck, w, st, &at);
}

// The children a checkpoint had in flight, into *redo (n of them; none without the blob).
static int load_inflight(ledger_ckpt_reader *from, const char *prefix, nas_proposal **redo,
                         int *n) {
    *redo = NULL;
    *n = 0;
    char name[96];
    snprintf(name, sizeof name, "%s/inflight", prefix);
    if (!ledger_ckpt_has(from, name)) return GH_OK;
    size_t bytes = 0;
    int st = ledger_ckpt_size(from, name, &bytes);
    if (st) return st;
    if (bytes % sizeof(inflight_blob))
        return gh_fail(GH_EFORMAT, "checkpoint: blob '%s' of %zu bytes is not a list of %zu-byte "
                       "children", name, bytes, sizeof(inflight_blob));
    int m = (int)(bytes / sizeof(inflight_blob));
    inflight_blob *b = malloc(bytes ? bytes : 1);
    nas_proposal *q = calloc((size_t)m + 1, sizeof *q);
    if (!b || !q) st = gh_fail(GH_ENOMEM, "checkpoint: %d children in flight", m);
    if (!st) st = ledger_ckpt_get(from, name, b, bytes);
    for (int i = 0; !st && i < m; i++) {
        if (!memchr(b[i].g, 0, sizeof b[i].g))
            st = gh_fail(GH_EFORMAT, "checkpoint: blob '%s': child %d unterminated", name, i);
        else if (!(st = genotype_parse(&q[i].g, b[i].g))) q[i].id = b[i].id;
    }
    free(b);
    if (st) {
        free(q);
        return st;
    }
    *redo = q;
    *n = m;
    return GH_OK;
}

// ---- the loop ----------------------------------------------------------------------------------
typedef struct {
    nas_run *r;
    nas_proposer *p;
    nas_children *x;
    int checkpoints, mpi;
    const char *prefix, *name;
    nas_proposal *fly;            // asked and not told
    int nfly;
    nas_proposal *redo;           // a resumed search's children in flight, trained first
    int nredo, next_redo;
    double t0;                    // the loop's start: the budget's clock
    int over_budget;
    int fail_st;                  // the first failed child's status: the search stops asking
    char fail_msg[512];
    double worker_s;              // seconds the workers trained
    double child_s;               // wall seconds of the children finished this session
    int64_t children_timed;       // ... and their count
    int64_t children;             // finished this session
} search_loop;

// The next child: a resumed search's unfinished one, else a new one asked of the proposer
// (NAS_STOP when it stops, or when the budget is spent).
static int next_child(search_loop *L, nas_proposal *q) {
    if (L->next_redo < L->nredo) {
        *q = L->redo[L->next_redo++];
        return GH_OK;
    }
    // a child is asked only if it is expected to end within the budget: the mean seconds of
    // the children finished so far (none yet: any time left will do)
    double budget = L->r->c->budget_s, left = budget - (gh_wall_seconds() - L->t0);
    double mean = L->children_timed ? L->child_s / (double)L->children_timed : 0;
    if (budget > 0 && (left <= 0 || left < mean)) {
        if (!L->over_budget)
            printf("%s: budget of %g s spent but %.2f s, less than a child's mean %.2f s: no more "
                   "children asked, %d in flight finish\n", L->name, budget, left > 0 ? left : 0,
                   mean, L->nfly);
        L->over_budget = 1;
        return NAS_STOP;
    }
    return nas_ask(L->p, q);
}

static void drop_flying(search_loop *L, int64_t id) {
    for (int i = 0; i < L->nfly; i++)
        if (L->fly[i].id == id) {
            memmove(&L->fly[i], &L->fly[i + 1], (size_t)(L->nfly - i - 1) * sizeof *L->fly);
            L->nfly--;
            return;
        }
}

// A finished child: its row and the proposer told; a diverged child is a result (recorded,
// told, the search goes on); another failure would repeat: recorded, not told, no more asked.
static int finish(search_loop *L, nas_child_done *d, int save_now, int *stop) {
    nas_run *r = L->r;
    nas_eval_result *res = &d->res;
    const char *status = "ok";
    L->children++;
    if (isfinite(res->cost.wall_s)) {
        L->child_s += res->cost.wall_s;
        L->children_timed++;
    }
    if (L->mpi) {   // trained elsewhere: the worker's cost is the search's, not this process's
        r->cost0 = cost_add(r->cost0, res->cost);
        L->worker_s += res->cost.wall_s;
    }
    if (d->st == GH_ENAN) {
        printf("%s arch %lld: diverged (%s)\n", L->name, (long long)d->q.id + 1, d->error);
        res->val_loss = res->val_acc = NAN;
        status = "nan";
    } else if (d->st) {
        res->val_loss = res->val_acc = NAN;
        if (!L->fail_st) {
            L->fail_st = d->st;
            snprintf(L->fail_msg, sizeof L->fail_msg, "%s", d->error);
        }
        *stop = 1;
        return nas_record_trial(r, d->q.id, &d->q.g, res, "failed");
    } else {
        char text[2048];
        genotype_print(&d->q.g, text, sizeof text);
        printf("%s arch %lld/%lld: valid_acc %.2f%% %s", L->name, (long long)d->q.id + 1,
               (long long)L->p->opt.max_proposals, 100 * res->val_acc, text);
        if (res->worker > 0) printf(" (worker %d)", res->worker);
        printf("\n");
        fflush(stdout);  // one line per child, seen at once through a pipe or a log file
    }
    int st = nas_tell(L->p, &d->q, res->val_acc, res->cost.wall_s);
    if (!st) st = nas_record_trial(r, d->q.id, &d->q.g, res, status);
    if (!st && save_now && L->checkpoints) st = save(r, L->p, L->prefix, L->fly, L->nfly);
    return st;
}

// Asynchronous: every free slot gets the next child at once; each child is told as it finishes.
static int run_async(search_loop *L) {
    int asking = 1, st = GH_OK;
    while (!st) {
        while (asking && L->nfly < L->x->slots) {
            nas_proposal q;
            int a = next_child(L, &q);
            if (a == NAS_STOP) asking = 0;
            if (a) {
                if (a != NAS_STOP) st = a;
                break;
            }
            if ((st = L->x->submit(L->x, &q))) break;
            L->fly[L->nfly++] = q;
        }
        if (st || L->nfly == 0) break;
        nas_child_done *d = malloc(sizeof *d);
        if (!d) return gh_fail(GH_ENOMEM, "search: no memory for a child's result");
        int stop = 0;
        if (!(st = L->x->wait(L->x, d))) {
            drop_flying(L, d->q.id);
            st = finish(L, d, 1, &stop);
        }
        free(d);
        if (stop) asking = 0;
    }
    return st;
}

// Synchronous: rounds of sync_batch children asked together, trained on the free slots, told in
// id order once all are back: the proposer sees the same sequence whatever the workers.
static int run_sync(search_loop *L, int width) {
    nas_child_done *done = malloc((size_t)width * sizeof *done);
    if (!done) return gh_fail(GH_ENOMEM, "search: no memory for a round of %d", width);
    int st = GH_OK, asking = 1;
    while (!st && asking) {
        int n = 0;
        while (n < width) {
            int a = next_child(L, &L->fly[n]);
            if (a == NAS_STOP) asking = 0;
            if (a) {
                if (a != NAS_STOP) st = a;
                break;
            }
            n++;
        }
        L->nfly = n;
        int sent = 0, got = 0;
        while (!st && got < n) {
            while (!st && sent < n && sent - got < L->x->slots)
                st = L->x->submit(L->x, &L->fly[sent++]);
            nas_child_done d;
            if (st || (st = L->x->wait(L->x, &d))) break;
            int k = 0;
            while (k < n && L->fly[k].id != d.q.id) k++;
            if (k == n) {
                st = gh_fail(GH_EIO, "search: child %lld came back, not of this round",
                             (long long)d.q.id);
                break;
            }
            done[k] = d;
            got++;
        }
        L->nfly = 0;
        for (int k = 0; !st && k < got; k++) {
            int stop = 0;
            st = finish(L, &done[k], 0, &stop);
            if (stop) asking = 0;
        }
        if (!st && !L->fail_st && L->checkpoints)
            st = save(L->r, L->p, L->prefix, NULL, 0);
    }
    free(done);
    return st;
}

// What the budget and the workers amount to, beside the results ("search_budget", JSON).
static int record_budget(const search_loop *L) {
    const nas_config *c = L->r->c;
    if (!L->r->l || !(c->budget_s > 0 || L->mpi || c->sync_batch > 0)) return GH_OK;
    char text[512];
    snprintf(text, sizeof text,
             "{\"budget_s\": %g, \"used_s\": %.3f, \"stopped_by\": \"%s\", \"workers\": %d, "
             "\"sync_batch\": %d, \"children\": %lld, \"worker_s\": %.3f}",
             c->budget_s, gh_wall_seconds() - L->t0, L->over_budget ? "budget" : "archs",
             L->mpi ? L->x->slots : 0, c->sync_batch, (long long)L->children, L->worker_s);
    return ledger_put_text(L->r->l, "search_budget", text);
}

int nas_search_proposals(nas_run *r, nas_proposer *p, nas_evaluator *ev, int checkpoints,
                         const char *prefix, const char *name) {
    int st = GH_OK;
    search_loop L = {.r = r, .p = p, .checkpoints = checkpoints, .prefix = prefix, .name = name,
                     .mpi = pg_world()->size > 1};
    ledger_ckpt_reader *from = checkpoints ? nas_ckpt_from(r->ck, NAS_DO_SEARCH) : NULL;
    if (from) {
        char blob[96];
        snprintf(blob, sizeof blob, "%s/proposer", prefix);
        // children asked and not told when the run stopped are asked again: the proposer's
        // state is the one after the last recorded row (a serial search), or they are trained
        // again from the list the checkpoint kept (workers, asynchronous)
        if ((st = nas_proposer_load(p, blob, from))) return st;
        if ((st = load_inflight(from, prefix, &L.redo, &L.nredo))) return st;
        printf("%s: resumed after %lld children", name, (long long)p->n_told);
        if (L.nredo) printf(", %d in flight trained again", L.nredo);
        printf("\n");
    }
    local_children local = {.base = {.slots = 1, .submit = local_submit, .wait = local_wait,
                                     .close = local_close},
                            .ev = ev};
    L.x = &local.base;
    if (L.mpi && (st = nas_children_open_ranks(&L.x, r))) {
        free(L.redo);
        return st;
    }
    int width = r->c->sync_batch;
    int cap = (width > L.x->slots ? width : L.x->slots) + L.nredo + 1;
    if (!(L.fly = calloc((size_t)cap, sizeof *L.fly)))
        st = gh_fail(GH_ENOMEM, "search: %d children in flight", cap);
    L.t0 = gh_wall_seconds();
    if (!st) st = width > 0 ? run_sync(&L, width) : run_async(&L);
    if (!st && L.fail_st) st = gh_fail(L.fail_st, "%s", L.fail_msg);
    if (!st) st = record_budget(&L);
    L.x->close(L.x);
    free(L.fly);
    free(L.redo);
    if (!st && !(p->best_reward > -INFINITY))
        st = gh_fail(GH_EINVAL, "%s: no genotype was scored (random_archs %lld)", name,
                     (long long)p->opt.max_proposals);
    return st;
}
