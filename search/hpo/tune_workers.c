// tune_workers: the trial executor of the parallel tuning loop. Two transports behind one
// interface (tune_internal.h): the ranks 1..N-1 of an MPI process group (dist.h; rank 0
// coordinates), or N worker processes forked from the coordinator (`tune --workers N`)
// talking over socket pairs. A worker only runs trials (tune.c's run_trial) on folds of its
// own and sends back the outcome, its seconds and its cost; the searchers, the ledger and the
// output stay with the coordinator.
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../dist/dist.h"
#include "../../kernels/kernels.h"
#include "tune_internal.h"

#define TAG_REQUEST (PG_TAG_TUNE + 0)
#define TAG_REPLY (PG_TAG_TUNE + 1)
#define HELLO_TIMEOUT_S 300.0   // a rank reads the data and builds its folds before its hello

typedef struct {
    int alive;
    int64_t ticket;           // the trial it runs; -1 idle
    pid_t pid;                // local: the process; MPI: 0
    int fd;                   // local: the coordinator's end of the socket pair
} worker_state;

struct tune_workers {
    int n;
    int mpi;                  // 1: ranks of the process group; 0: local processes
    int64_t next_ticket;
    worker_state *w;          // [n + 1], by worker id 1..n
};

// ---- the folds' fingerprint ------------------------------------------------------------------
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t tune_folds_signature(const tune_folds *f) {
    uint64_t h = fnv(0xcbf29ce484222325ull, &f->k, sizeof f->k);
    for (int i = 0; i < f->k; i++) {
        const gh_dataset *s[2] = {&f->train[i], &f->val[i]};
        for (int j = 0; j < 2; j++) {
            h = fnv(h, &s[j]->n, sizeof s[j]->n);
            h = fnv(h, &s[j]->d, sizeof s[j]->d);
            h = fnv(h, s[j]->x, sizeof(float) * (size_t)s[j]->n * (size_t)s[j]->d);
            h = fnv(h, s[j]->y, sizeof(float) * (size_t)s[j]->n);
        }
    }
    return h;
}

// ---- the worker: the same loop over either transport ----------------------------------------
typedef struct {
    int (*recv)(void *ctx, tune_request *rq);
    int (*send)(void *ctx, const tune_reply *rp);
    void *ctx;
    int id;
} endpoint;

static void reply_init(tune_reply *rp, int id, int kind, int64_t ticket) {
    memset(rp, 0, sizeof *rp);
    rp->magic = TUNE_MSG_MAGIC;
    rp->kind = kind;
    rp->worker = id;
    rp->ticket = ticket;
    rp->pid = (int32_t)getpid();
    gethostname(rp->host, sizeof rp->host - 1);
}

// One trial as asked: run_trial against this process's clock, measured by this process's
// meter. A status only for what ends the run (out of memory); a learner's failure is the
// trial's outcome.
static void serve_one(const tune_folds *f, const tune_request *rq, cost_meter *meter,
                      tune_reply *rp) {
    snprintf(rp->status, sizeof rp->status, "failed");
    rp->loss = INFINITY;
    char name[sizeof rq->learner + 1];
    snprintf(name, sizeof name, "%.*s", (int)sizeof rq->learner, rq->learner);
    const learner_def *def = learner_find(name);
    if (!def) {
        snprintf(rp->error, sizeof rp->error, "learner '%s' is not in this worker's build",
                 name);
        return;
    }
    cost_meter_start(meter);
    double t0 = gh_wall_seconds();
    trial_outcome r;
    int st = tune_run_trial(f, def, rq->cfg, rq->fidelity, rq->seed, (gh_metric)rq->metric,
                            t0 + rq->seconds_left, &r);
    rp->seconds = gh_wall_seconds() - t0;
    rp->cost = cost_meter_read(meter);
    if (st) {
        rp->st = st;
        snprintf(rp->error, sizeof rp->error, "%s", gh_error_get());
        return;
    }
    rp->loss = r.loss;
    rp->rows = r.rows;
    rp->stopped_early = r.stopped_early;
    snprintf(rp->status, sizeof rp->status, "%s", r.status);
    snprintf(rp->error, sizeof rp->error, "%s", r.error);
}

// Hello (with the folds' fingerprint, or the setup failure setup_st), then trials until quit.
static int serve(const tune_folds *f, int setup_st, const endpoint *ep) {
    tune_reply rp;
    reply_init(&rp, ep->id, TUNE_MSG_HELLO, -1);
    rp.st = setup_st;
    if (setup_st) snprintf(rp.error, sizeof rp.error, "%s", gh_error_get());
    else rp.folds_signature = tune_folds_signature(f);
    int st = ep->send(ep->ctx, &rp);
    if (st || setup_st) return st ? st : setup_st;
    cost_meter *meter = cost_meter_create(gh_cuda_device_count() > 0 ? 1 : 0);
    if (!meter) return gh_fail(GH_ENOMEM, "tune worker %d: cost meter", ep->id);
    for (;;) {
        tune_request rq;
        st = ep->recv(ep->ctx, &rq);
        if (st) break;
        if (rq.magic != TUNE_MSG_MAGIC) {
            st = gh_fail(GH_EIO, "tune worker %d: a request of another build (magic %08x)", ep->id,
                         rq.magic);
            break;
        }
        if (rq.kind == TUNE_MSG_QUIT) break;
        reply_init(&rp, ep->id, TUNE_MSG_RESULT, rq.ticket);
        serve_one(f, &rq, meter, &rp);
        if ((st = ep->send(ep->ctx, &rp))) break;
    }
    cost_meter_destroy(meter);
    return st;
}

// OpenMP threads of each of n processes sharing this host's cores (as OMP_NUM_THREADS or the
// core count says), at least one.
static void share_threads(int n) {
    gh_cpu_set_threads(gh_cpu_threads() / (n > 0 ? n : 1));
}

// ---- MPI ranks -------------------------------------------------------------------------------
static int mpi_recv(void *ctx, tune_request *rq) {
    (void)ctx;
    int src;
    size_t n;
    int st = pg_recv(TAG_REQUEST, rq, sizeof *rq, &src, &n, -1);
    if (!st && n != sizeof *rq)
        st = gh_fail(GH_EIO, "tune worker: a request of %zu bytes from rank %d, expected %zu", n,
                     src, sizeof *rq);
    return st;
}

static int mpi_send(void *ctx, const tune_reply *rp) {
    (void)ctx;
    return pg_send(0, TAG_REPLY, rp, sizeof *rp);
}

int tune_worker_serve(const gh_dataset *data, const tune_options *o) {
    const pg_info *pg = pg_world();
    if (pg->size < 2 || pg->rank == 0)
        return gh_fail(GH_EINVAL, "tune_worker_serve: rank %d of %d is not a worker", pg->rank,
                       pg->size);
    share_threads(pg->local_size);
    tune_folds f;
    int setup = tune_folds_split(&f, data, o);
    endpoint ep = {mpi_recv, mpi_send, NULL, pg->rank};
    int st = serve(&f, setup, &ep);
    if (!setup) tune_folds_free(&f);
    return st;
}

static int read_reply(const tune_reply *rp, size_t n, int src) {
    if (n != sizeof *rp || rp->magic != TUNE_MSG_MAGIC)
        return gh_fail(GH_EIO, "tune: a reply of %zu bytes (magic %08x) from worker %d: not "
                       "this build's (%zu bytes, magic %08x)", n, n >= 4 ? rp->magic : 0, src,
                       sizeof *rp, TUNE_MSG_MAGIC);
    return GH_OK;
}

// Every rank's hello: it is up, built the coordinator's folds, and says where it runs.
static int hellos(tune_workers *w, uint64_t want, int verbose,
                  int (*get)(tune_workers *, double, tune_reply *, int *)) {
    for (int got = 0; got < w->n; got++) {
        tune_reply rp;
        int src = 0;
        int st = get(w, HELLO_TIMEOUT_S, &rp, &src);
        if (st == TUNE_WORKERS_TIMEOUT)
            return gh_fail(GH_EIO, "tune: %d of %d workers said hello within %.0f s", got, w->n,
                           HELLO_TIMEOUT_S);
        if (st) return st;
        if (rp.kind != TUNE_MSG_HELLO || rp.worker != src)
            return gh_fail(GH_EIO, "tune: worker %d sent kind %d as worker %d before its hello",
                           src, rp.kind, rp.worker);
        if (rp.st)
            return gh_fail(rp.st, "tune: worker %d (%s, pid %d) could not start: %s", src, rp.host,
                           rp.pid, rp.error);
        if (rp.folds_signature != want)
            return gh_fail(GH_EINVAL, "tune: worker %d (%s) built other folds than the "
                           "coordinator (another data file or version there?)", src, rp.host);
        w->w[src].alive = 1;
        if (verbose) printf("tune: worker %d up on %s (pid %d)\n", src, rp.host, rp.pid);
    }
    return GH_OK;
}

static int mpi_hello_get(tune_workers *w, double timeout_s, tune_reply *rp, int *src) {
    (void)w;
    size_t n;
    int st = pg_recv(TAG_REPLY, rp, sizeof *rp, src, &n, timeout_s);
    if (st == PG_TIMEOUT) return TUNE_WORKERS_TIMEOUT;
    return st ? st : read_reply(rp, n, *src);
}

// ---- local worker processes ---------------------------------------------------------------
static int sock_recv_all(int fd, void *buf, size_t n) {   // 1: all; 0: end of stream; -1
    size_t got = 0;
    while (got < n) {
        ssize_t k = recv(fd, (char *)buf + got, n - got, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return k == 0 && got == 0 ? 0 : -1;
        got += (size_t)k;
    }
    return 1;
}

static int sock_send_all(int fd, const void *buf, size_t n) {   // MSG_NOSIGNAL: no SIGPIPE
    size_t put = 0;
    while (put < n) {
        ssize_t k = send(fd, (const char *)buf + put, n - put, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        put += (size_t)k;
    }
    return 0;
}

static int local_recv(void *ctx, tune_request *rq) {
    int r = sock_recv_all(*(int *)ctx, rq, sizeof *rq);
    if (r == 1) return GH_OK;
    if (r == 0) {   // the coordinator is gone: quit
        rq->magic = TUNE_MSG_MAGIC;
        rq->kind = TUNE_MSG_QUIT;
        return GH_OK;
    }
    return gh_fail(GH_EIO, "tune worker: reading a request: %s", strerror(errno));
}

static int local_send(void *ctx, const tune_reply *rp) {
    if (sock_send_all(*(int *)ctx, rp, sizeof *rp))
        return gh_fail(GH_EIO, "tune worker: sending a reply: %s", strerror(errno));
    return GH_OK;
}

// Why worker k's process ended, into buf.
static void death_reason(tune_workers *w, int k, char *buf, size_t n) {
    worker_state *ws = &w->w[k];
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 100 && (r = waitpid(ws->pid, &status, WNOHANG)) == 0; i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);   // up to 1 s to exit
    if (r == ws->pid && WIFSIGNALED(status))
        snprintf(buf, n, "worker %d (pid %d) died: killed by signal %d (%s)", k, (int)ws->pid,
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (r == ws->pid)
        snprintf(buf, n, "worker %d (pid %d) died: exit status %d", k, (int)ws->pid,
                 WEXITSTATUS(status));
    else
        snprintf(buf, n, "worker %d (pid %d) closed its connection", k, (int)ws->pid);
    if (r == ws->pid) ws->pid = 0;
}

static void local_drop(tune_workers *w, int k) {
    worker_state *ws = &w->w[k];
    if (ws->fd >= 0) close(ws->fd);
    ws->fd = -1;
    ws->alive = 0;
}

// Waits for one message from any live local worker: GH_OK with *rp and *src; a worker whose
// stream ended gives a made-up reply (rp->kind TUNE_MSG_RESULT, status failed).
static int local_get(tune_workers *w, double timeout_s, tune_reply *rp, int *src) {
    struct pollfd pf[TUNE_MAX_WORKERS];
    int id[TUNE_MAX_WORKERS], m = 0;
    for (int k = 1; k <= w->n; k++)
        if (w->w[k].fd >= 0) {
            pf[m] = (struct pollfd){w->w[k].fd, POLLIN, 0};
            id[m++] = k;
        }
    if (m == 0) return TUNE_WORKERS_TIMEOUT;
    int ms = timeout_s < 0 ? -1 : (int)ceil(fmin(timeout_s, 1e6) * 1000);
    int r;
    while ((r = poll(pf, (nfds_t)m, ms)) < 0 && errno == EINTR) {}
    if (r < 0) return gh_fail(GH_EIO, "tune: poll on %d workers: %s", m, strerror(errno));
    if (r == 0) return TUNE_WORKERS_TIMEOUT;
    for (int i = 0; i < m; i++) {
        if (!pf[i].revents) continue;
        int k = id[i];
        *src = k;
        int got = sock_recv_all(w->w[k].fd, rp, sizeof *rp);
        if (got == 1) return read_reply(rp, sizeof *rp, k);
        int64_t ticket = w->w[k].ticket;
        reply_init(rp, k, TUNE_MSG_RESULT, ticket);
        rp->loss = INFINITY;
        snprintf(rp->status, sizeof rp->status, "failed");
        death_reason(w, k, rp->error, sizeof rp->error);
        local_drop(w, k);
        return GH_OK;
    }
    return TUNE_WORKERS_TIMEOUT;
}

// The child's life: its own socket only, killed with the coordinator, threads shared, trials
// until quit; _exit, never exit: the atexit handlers (HDF5's, sanitizers') are the parent's.
static void local_child(tune_workers *w, int k, int fd, const tune_folds *f, pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(3);
    for (int j = 1; j < k; j++)
        if (w->w[j].fd >= 0) close(w->w[j].fd);
    share_threads(w->n);
    endpoint ep = {local_recv, local_send, &fd, k};
    int st = serve(f, GH_OK, &ep);
    if (st) fprintf(stderr, "gpuhours tune: worker %d: %s\n", k, gh_error_get());
    _exit(st ? 1 : 0);
}

static int local_open(tune_workers *w, const tune_folds *f) {
    // libgomp's thread pool and CUDA do not survive a fork: the workers start before any
    // learner ran here, and this checks that neither has started
    int threads;
    if (!gh_cpu_fork_safe(&threads))
        return gh_fail(GH_EUNSUP, "tune: cannot fork workers from a process running %d threads "
                       "(OpenMP or CUDA started: workers must start before any learner runs)",
                       threads);
    fflush(NULL);
    pid_t parent = getpid();
    for (int k = 1; k <= w->n; k++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            return gh_fail(GH_EIO, "tune: socketpair for worker %d: %s", k, strerror(errno));
        pid_t pid = fork();
        if (pid < 0) {
            close(sv[0]);
            close(sv[1]);
            return gh_fail(GH_EIO, "tune: fork of worker %d: %s", k, strerror(errno));
        }
        if (pid == 0) {
            close(sv[0]);
            local_child(w, k, sv[1], f, parent);
        }
        close(sv[1]);
        w->w[k] = (worker_state){0, -1, pid, sv[0]};
    }
    return GH_OK;
}

static int local_hello_get(tune_workers *w, double timeout_s, tune_reply *rp, int *src) {
    int st = local_get(w, timeout_s, rp, src);
    if (!st && rp->kind == TUNE_MSG_RESULT)   // it died before its hello
        return gh_fail(GH_EIO, "tune: %s before it started", rp->error);
    return st;
}

// ---- the interface ---------------------------------------------------------------------------
int tune_workers_count(const tune_workers *w) { return w ? w->n : 0; }

int tune_workers_alive(const tune_workers *w, int k) {
    return w && k >= 1 && k <= w->n && w->w[k].alive;
}

int tune_workers_open(tune_workers **out, const gh_dataset *data, const tune_options *o,
                      int n_local) {
    *out = NULL;
    const pg_info *pg = pg_world();
    int mpi = pg->size > 1;
    if (mpi && pg->rank != 0)
        return gh_fail(GH_EINVAL, "tune_workers_open: rank %d is a worker (tune_worker_serve)",
                       pg->rank);
    if (mpi && n_local > 1)
        return gh_fail(GH_EINVAL, "--workers %d under a launcher of %d ranks: the ranks are the "
                       "workers (%d here); leave --workers out", n_local, pg->size, pg->size - 1);
    int n = mpi ? pg->size - 1 : n_local;
    if (n > TUNE_MAX_WORKERS || (!mpi && n < 2))
        return gh_fail(GH_EINVAL, "tune: %d workers, expected 2..%d (or 1: no worker processes)",
                       n, TUNE_MAX_WORKERS);
    tune_workers *w = calloc(1, sizeof *w);
    if (w) w->w = calloc((size_t)n + 1, sizeof *w->w);
    if (!w || !w->w) {
        if (w) free(w->w);
        free(w);
        return gh_fail(GH_ENOMEM, "tune: %d workers", n);
    }
    w->n = n;
    w->mpi = mpi;
    for (int k = 0; k <= n; k++) w->w[k] = (worker_state){0, -1, 0, -1};
    tune_folds f;
    int st = tune_folds_split(&f, data, o);
    if (st) {
        free(w->w);
        free(w);
        return st;
    }
    uint64_t sig = tune_folds_signature(&f);
    if (o->verbose)
        printf("tune: %d workers (%s), up to %d trials at a time\n", n,
               mpi ? "MPI ranks" : "local processes", n);
    if (!mpi) st = local_open(w, &f);   // the children inherit f
    tune_folds_free(&f);
    if (!st) st = hellos(w, sig, o->verbose, mpi ? mpi_hello_get : local_hello_get);
    if (st) {
        tune_workers_close(w);
        return st;
    }
    *out = w;
    return GH_OK;
}

int tune_workers_send(tune_workers *w, int k, tune_request *rq) {
    if (!tune_workers_alive(w, k) || w->w[k].ticket >= 0)
        return gh_fail(GH_EINVAL, "tune: worker %d is not idle", k);
    rq->magic = TUNE_MSG_MAGIC;
    rq->ticket = ++w->next_ticket;
    if (w->mpi) {
        int st = pg_send(k, TAG_REQUEST, rq, sizeof *rq);
        if (st) return st;
    } else if (sock_send_all(w->w[k].fd, rq, sizeof *rq)) {
        // it died: its reply (made up by local_get when the stream ends) reports it
        w->w[k].ticket = rq->ticket;
        return GH_OK;
    }
    w->w[k].ticket = rq->ticket;
    return GH_OK;
}

int tune_workers_wait(tune_workers *w, double timeout_s, tune_reply *out) {
    double t0 = gh_wall_seconds();
    for (;;) {
        double left = timeout_s < 0 ? -1 : fmax(0, timeout_s - (gh_wall_seconds() - t0));
        int src = 0, st;
        if (w->mpi) {
            size_t n;
            st = pg_recv(TAG_REPLY, out, sizeof *out, &src, &n, left);
            if (st == PG_TIMEOUT) return TUNE_WORKERS_TIMEOUT;
            if (!st) st = read_reply(out, n, src);
        } else {
            st = local_get(w, left, out, &src);
        }
        if (st) return st;
        if (src < 1 || src > w->n || out->kind != TUNE_MSG_RESULT)
            return gh_fail(GH_EIO, "tune: message kind %d from worker %d", out->kind, src);
        out->worker = src;
        worker_state *ws = &w->w[src];
        if (out->ticket >= 0 && out->ticket == ws->ticket) {
            ws->ticket = -1;
            return GH_OK;
        }
        if (!ws->alive && !w->mpi) return GH_OK;   // died idle: reported once
        // a late reply to a trial given up on: dropped; an MPI rank is usable again
        if (w->mpi && ws->ticket < 0) ws->alive = 1;
    }
}

void tune_workers_give_up(tune_workers *w, int k) {
    if (!w || k < 1 || k > w->n) return;
    worker_state *ws = &w->w[k];
    ws->alive = 0;
    if (w->mpi) {
        ws->ticket = -1;   // its reply, when it comes, is dropped
        return;
    }
    if (ws->pid > 0) {
        kill(ws->pid, SIGKILL);
        waitpid(ws->pid, NULL, 0);
        ws->pid = 0;
    }
    local_drop(w, k);
}

int tune_workers_close(tune_workers *w) {
    if (!w) return GH_OK;
    int st = GH_OK;
    tune_request quit = {.magic = TUNE_MSG_MAGIC, .kind = TUNE_MSG_QUIT, .ticket = -1};
    for (int k = 1; k <= w->n; k++) {
        worker_state *ws = &w->w[k];
        if (w->mpi) {
            // every rank, those given up on too: each waits for its quit
            int s = pg_send(k, TAG_REQUEST, &quit, sizeof quit);
            if (!st) st = s;
        } else if (ws->fd >= 0) {
            sock_send_all(ws->fd, &quit, sizeof quit);
            local_drop(w, k);   // a worker also quits at the end of its stream
        }
    }
    for (int k = 1; k <= w->n && !w->mpi; k++) {
        worker_state *ws = &w->w[k];
        if (ws->pid <= 0) continue;
        pid_t r = 0;
        for (int i = 0; i < 500 && (r = waitpid(ws->pid, NULL, WNOHANG)) == 0; i++)
            nanosleep(&(struct timespec){0, 10000000}, NULL);   // 5 s to finish a trial
        if (r == 0) {
            kill(ws->pid, SIGKILL);
            waitpid(ws->pid, NULL, 0);
        }
        ws->pid = 0;
    }
    free(w->w);
    free(w);
    return st;
}
