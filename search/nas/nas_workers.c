// nas_workers: the children of a proposer search trained on the worker ranks of an MPI process
// group (dist.h; `mpirun -np N gpuhours search regevo ...`): rank 0 sends a child (genotype
// text, trial id, seed, epochs) to an idle rank and takes the results back as they come; a
// worker builds the run's split itself, trains children until told to quit and measures what
// each cost it. The pattern of search/hpo/tune_workers.c: fixed structs, a hello first.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../dist/dist.h"
#include "nas_internal.h"

#define TAG_REQUEST (PG_TAG_NAS + 0)
#define TAG_REPLY (PG_TAG_NAS + 1)
#define NAS_MSG_MAGIC 0x4e415357u   // "NASW"; another layout of the structs: another magic
enum { MSG_CHILD = 1, MSG_QUIT = 2, MSG_HELLO = 3, MSG_RESULT = 4 };

typedef struct {
    uint32_t magic;
    int32_t kind;
    int64_t id;                   // trial id
    uint64_t seed;                // engine and data order of the child
    int32_t epochs, pad;
    char genotype[2048];
} child_request;
_Static_assert(sizeof(child_request) == 32 + 2048, "child_request has padding");

typedef struct {
    uint32_t magic;
    int32_t kind;
    int32_t worker;               // the sender's rank
    int32_t st;                   // GH_OK, GH_ENAN (diverged) or the failure (hello: setup)
    int64_t id;
    uint64_t data_signature;      // hello: the split this rank built
    double val_acc, val_loss, train_acc, train_loss, fidelity;
    double params, madds, seconds;
    cost_totals cost;             // measured by the worker: its share of the run's GPU-hours
    char status[8];               // "ok", "nan", "failed"
    char host[64];
    char error[512];
} child_reply;

// ---- the split's fingerprint: every rank must train on the coordinator's images --------------
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t split_signature(const nas_run *r) {
    uint64_t h = 0xcbf29ce484222325ull;
    const gh_images *s[2] = {&r->wtrain, &r->wval};
    for (int j = 0; j < 2; j++) {
        size_t n = (size_t)s[j]->n;
        h = fnv(h, &s[j]->n, sizeof s[j]->n);
        h = fnv(h, s[j]->x, sizeof(float) * n * (size_t)(s[j]->c * s[j]->h * s[j]->w));
        h = fnv(h, s[j]->y, sizeof(int) * n);
    }
    return h;
}

// ---- the worker ------------------------------------------------------------------------------
// Its own GPU (local rank modulo the devices CUDA_VISIBLE_DEVICES leaves) when the config asks
// for CUDA or auto and there is one; else its share of this host's CPU threads, the
// coordinator (which trains nothing) not counted, unless threads or OMP_NUM_THREADS is set.
static void place(nas_config *c, const pg_info *pg) {
    int gpus = gh_cuda_device_count();
    if (gpus > 0 && (!strcmp(c->backend, "auto") || !strcmp(c->backend, "cuda")))
        snprintf(c->backend, sizeof c->backend, "cuda:%d", (pg->local_rank % gpus) & 0xffff);
    if (c->threads == 0 && !getenv("OMP_NUM_THREADS")) {
        int sharing = pg->local_size > 1 ? pg->local_size - 1 : 1;
        int t = gh_cpu_threads() / sharing;
        c->threads = t > 0 ? t : 1;
    }
}

static void reply_init(child_reply *rp, int kind, int64_t id) {
    memset(rp, 0, sizeof *rp);
    rp->magic = NAS_MSG_MAGIC;
    rp->kind = kind;
    rp->worker = pg_world()->rank;
    rp->id = id;
    gethostname(rp->host, sizeof rp->host - 1);
}

static void train_one(const nas_run *r, const child_request *rq, child_reply *rp) {
    genotype g;
    snprintf(rp->status, sizeof rp->status, "failed");
    rp->val_acc = rp->val_loss = rp->train_acc = rp->train_loss = NAN;
    if (!memchr(rq->genotype, 0, sizeof rq->genotype)) {
        rp->st = gh_fail(GH_EIO, "worker %d: child %lld's genotype unterminated", rp->worker,
                         (long long)rq->id);
    } else if (!(rp->st = genotype_parse(&g, rq->genotype))) {
        char text[2048];
        nas_genotype_info(r->c, r->d, &g, text, sizeof text, &rp->params, &rp->madds);
        nas_eval_result res;
        double t0 = gh_wall_seconds();
        rp->st = nas_train_child(r, &g, rq->id, rq->seed, rq->epochs, NULL, &res);
        rp->seconds = gh_wall_seconds() - t0;
        rp->val_acc = res.val_acc;
        rp->val_loss = res.val_loss;
        rp->train_acc = res.train_acc;
        rp->train_loss = res.train_loss;
        rp->fidelity = res.fidelity;
        rp->cost = res.cost;
        if (!rp->st) snprintf(rp->status, sizeof rp->status, "ok");
        else if (rp->st == GH_ENAN) snprintf(rp->status, sizeof rp->status, "nan");
    }
    if (rp->st) snprintf(rp->error, sizeof rp->error, "%s", gh_error_get());
}

int nas_worker_serve(const nas_config *c, const nas_data *d) {
    const pg_info *pg = pg_world();
    if (pg->size < 2 || pg->rank == 0)
        return gh_fail(GH_EINVAL, "nas_worker_serve: rank %d of %d is not a worker", pg->rank,
                       pg->size);
    nas_config wc = *c;
    place(&wc, pg);
    nas_run r;
    child_reply rp;
    reply_init(&rp, MSG_HELLO, -1);
    rp.st = nas_run_open(&r, &wc, d, NULL);
    if (rp.st) snprintf(rp.error, sizeof rp.error, "%s", gh_error_get());
    else rp.data_signature = split_signature(&r);
    int setup = rp.st, st = pg_send(0, TAG_REPLY, &rp, sizeof rp);
    if (setup) return st ? st : setup;   // nas_run_open closed what it opened
    child_request *rq = malloc(sizeof *rq);
    if (!rq) st = gh_fail(GH_ENOMEM, "worker %d: no memory", pg->rank);
    while (!st) {
        int src;
        if ((st = pg_recv_fixed(TAG_REQUEST, rq, sizeof *rq, &src, -1))) break;
        if (rq->magic != NAS_MSG_MAGIC) {
            st = gh_fail(GH_EIO, "worker %d: a request of another build (magic %08x)", pg->rank,
                         rq->magic);
            break;
        }
        if (rq->kind == MSG_QUIT) break;
        reply_init(&rp, MSG_RESULT, rq->id);
        train_one(&r, rq, &rp);
        st = pg_send(0, TAG_REPLY, &rp, sizeof rp);
    }
    free(rq);
    nas_run_close(&r);
    return st;
}

// ---- the coordinator's side: a nas_children of the ranks -------------------------------------
typedef struct {
    nas_children base;
    const nas_run *r;
    int n;                        // workers: ranks 1..n
    int *busy;                    // [n + 1]: 1 while a child is on it
    nas_proposal *on;             // [n + 1]: the child it trains
    int64_t *children;            // [n + 1]: children it finished
} rank_children;

static int ranks_submit(nas_children *x, const nas_proposal *q) {
    rank_children *w = (rank_children *)x;
    int k = 1;
    while (k <= w->n && w->busy[k]) k++;
    if (k > w->n) return gh_fail(GH_EINVAL, "search: child %lld with no idle worker",
                                 (long long)q->id);
    child_request *rq = calloc(1, sizeof *rq);
    if (!rq) return gh_fail(GH_ENOMEM, "search: no memory for a request");
    *rq = (child_request){.magic = NAS_MSG_MAGIC, .kind = MSG_CHILD, .id = q->id,
                          .seed = w->r->c->seed + (uint64_t)q->id,
                          .epochs = w->r->c->random.epochs};
    genotype_print(&q->g, rq->genotype, sizeof rq->genotype);
    int st = pg_send(k, TAG_REQUEST, rq, sizeof *rq);
    free(rq);
    if (st) return st;
    w->busy[k] = 1;
    w->on[k] = *q;
    return GH_OK;
}

static int recv_reply(child_reply *rp, int *src) {
    int st = pg_recv_fixed(TAG_REPLY, rp, sizeof *rp, src, -1);
    if (!st && rp->magic != NAS_MSG_MAGIC)
        st = gh_fail(GH_EIO, "search: a reply of another build from rank %d (magic %08x)", *src,
                     rp->magic);
    return st;
}

static int ranks_wait(nas_children *x, nas_child_done *out) {
    rank_children *w = (rank_children *)x;
    child_reply rp;
    int src = 0, st = recv_reply(&rp, &src);
    if (st) return st;
    if (src < 1 || src > w->n || rp.kind != MSG_RESULT || !w->busy[src] ||
        rp.id != w->on[src].id)
        return gh_fail(GH_EIO, "search: rank %d sent kind %d for child %lld, not its child",
                       src, rp.kind, (long long)rp.id);
    w->busy[src] = 0;
    w->children[src]++;
    out->q = w->on[src];
    out->st = rp.st;
    snprintf(out->error, sizeof out->error, "worker %d (%.63s): %.400s", src, rp.host,
             rp.error);
    if (rp.st == GH_ENAN) snprintf(out->error, sizeof out->error, "%s", rp.error);
    out->res = (nas_eval_result){.val_loss = rp.val_loss, .val_acc = rp.val_acc,
                                 .train_loss = rp.train_loss, .train_acc = rp.train_acc,
                                 .fidelity = rp.fidelity, .cost = rp.cost, .worker = src};
    return GH_OK;
}

static void ranks_close(nas_children *x) {
    rank_children *w = (rank_children *)x;
    child_request quit = {.magic = NAS_MSG_MAGIC, .kind = MSG_QUIT, .id = -1};
    for (int k = 1; k <= w->n; k++) {
        pg_send(k, TAG_REQUEST, &quit, sizeof quit);
        if (w->children[k] >= 0)
            printf("search: worker %d trained %lld children\n", k, (long long)w->children[k]);
    }
    free(w->busy);
    free(w->on);
    free(w->children);
    free(w);
}

int nas_children_open_ranks(nas_children **out, const nas_run *r) {
    *out = NULL;
    const pg_info *pg = pg_world();
    if (pg->size < 2 || pg->rank != 0)
        return gh_fail(GH_EINVAL, "search: rank %d of %d cannot coordinate workers", pg->rank,
                       pg->size);
    int n = pg->size - 1;
    rank_children *w = calloc(1, sizeof *w);
    if (w) {
        w->busy = calloc((size_t)n + 1, sizeof *w->busy);
        w->on = calloc((size_t)n + 1, sizeof *w->on);
        w->children = calloc((size_t)n + 1, sizeof *w->children);
    }
    if (!w || !w->busy || !w->on || !w->children) {
        if (w) free(w->busy), free(w->on), free(w->children);
        free(w);
        return gh_fail(GH_ENOMEM, "search: %d workers", n);
    }
    w->base = (nas_children){.slots = n, .submit = ranks_submit, .wait = ranks_wait,
                             .close = ranks_close};
    w->r = r;
    w->n = n;
    // every rank's hello: it is up and built the coordinator's split
    uint64_t want = split_signature(r);
    int st = GH_OK;
    for (int got = 0; !st && got < n; got++) {
        child_reply rp;
        int src = 0;
        if ((st = recv_reply(&rp, &src))) break;
        if (rp.kind != MSG_HELLO)
            st = gh_fail(GH_EIO, "search: rank %d sent kind %d before its hello", src, rp.kind);
        else if (rp.st)
            st = gh_fail(rp.st, "search: worker %d (%s) could not start: %s", src, rp.host,
                         rp.error);
        else if (rp.data_signature != want)
            st = gh_fail(GH_EINVAL, "search: worker %d (%s) built another split than the "
                         "coordinator (another data file or version there?)", src, rp.host);
    }
    if (st) {
        ranks_close(&w->base);
        return st;
    }
    printf("search: %d workers (MPI ranks 1..%d), a child each at a time\n", n, n);
    *out = &w->base;
    return GH_OK;
}
