// test_nas_resume: checkpoints and --resume of NAS runs, deterministic on the CPU backend with
// the generated quadrant images. For DARTS second order, random-ws (training and scoring), ENAS
// (child and controller training) and final training over two seeds, a run is SIGKILLed at a
// known checkpoint (mid-epoch, mid-seed, between scored genotypes), resumed from its run file,
// and must end with exactly the ledger of an uninterrupted run of the same seed: every epoch
// and trial row bit for bit (losses, accuracies, genotypes), the same artifacts and the same
// number of phase-cost rows. Rows the killed run recorded after its last checkpoint are dropped
// and recorded again: that state is made exactly by putting back an earlier checkpoint (the one
// of the last step of an epoch, or before a scored genotype or a seed) after the run went on to
// record the epoch's rows.
//
// Every run is a child process: libgomp's thread pool does not survive fork(), so the parent
// never trains; it only reads the ledgers. A child stopped at a checkpoint tells the parent
// through a pipe and waits there, so the kill never depends on how fast the machine is.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "quadrants.h"

enum { KIND_DARTS, KIND_WS, KIND_FINAL, KIND_REGEVO, KIND_RL, KIND_ENAS, KIND_MACRO,
       KIND_MACRO_FINAL };

// A checkpoint to stop at: phase, unit, within a training (1) at pos epoch/step, or not (0).
typedef struct {
    int phase, unit, training, epoch, step;
} stop_at;

typedef struct {
    stop_at pause;           // tell the parent 'p', wait for a byte, go on (unit -1: none)
    stop_at block;           // tell the parent 'b', wait to be killed
    int to_parent, from_parent;
} hook_ctx;

static int matches(const stop_at *s, const nas_ckpt_point *at) {
    return s->unit >= 0 && s->phase == at->phase && s->unit == at->unit &&
           s->training == at->training &&
           (!at->training || (s->epoch == at->pos.epoch && s->step == at->pos.step));
}

static int on_written(void *ctx, const nas_ckpt_point *at) {
    hook_ctx *h = ctx;
    char b;
    if (matches(&h->pause, at)) {
        if (write(h->to_parent, "p", 1) != 1 || read(h->from_parent, &b, 1) != 1) _exit(3);
    } else if (matches(&h->block, at)) {
        if (write(h->to_parent, "b", 1) != 1) _exit(3);
        for (;;) pause();
    }
    return GH_OK;
}

static nas_config config_of(int kind, const char *path) {
    nas_config c = quadrant_config(path);
    c.deterministic = 1;
    c.search_epochs = 3;
    c.search_val_limit = 32;
    c.random.archs = 4;
    c.final_epochs = 2;
    c.final_batch = 16;
    c.drop_path = 0.2;
    snprintf(c.seeds, sizeof c.seeds, "4,9");
    snprintf(c.genotype, sizeof c.genotype, "DARTS_V2");
    c.checkpoint_every_min = 1e-9;   // a checkpoint after every step
    if (kind == KIND_WS) nas_config_set(&c, NULL, "method", "random-ws", NULL, 0);
    if (kind == KIND_REGEVO || kind == KIND_RL) {   // 5 NASNet children of 1 epoch, P = S = 2
        nas_config_set(&c, NULL, "method", kind == KIND_RL ? "nasnet-rl" : "regevo", NULL, 0);
        nas_config_set(&c, NULL, "space", "nasnet", NULL, 0);
        c.random.archs = 5;
        c.random.epochs = 1;
        c.regevo.population = 2;
        c.regevo.sample = 2;
        c.rl.batch = 2;
        c.rl.lr = 0.01;
    }
    if (kind == KIND_MACRO_FINAL)   // a 3-layer macro arc's network
        snprintf(c.genotype, sizeof c.genotype, "enas-macro: 0 4 1 3 1 0");
    if (kind == KIND_ENAS || kind == KIND_MACRO) {   // 2 controller steps of 3 arcs after each
        // epoch, 3 derived arcs
        nas_config_set(&c, NULL, "method", kind == KIND_MACRO ? "enas-macro" : "enas", NULL, 0);
        c.enas.lstm_size = 16;
        c.enas.train_steps = 2;
        c.enas.aggregate = 3;
        c.enas.derive_archs = 3;
        c.enas.lr_t0 = 1;
    }
    return c;
}

// The work of a run of `kind` in l (ck: checkpoints and the one to resume from, or NULL).
static int work(int kind, const nas_config *c, const nas_data *d, ledger *l, const nas_ckpt *ck) {
    genotype g;
    enas_macro_arc m;
    double mean, sd;
    if (kind == KIND_MACRO) return nas_search_run_macro(c, d, l, ck, &m);
    if (kind == KIND_MACRO_FINAL) {
        int st = enas_macro_resolve(c->genotype, &m);
        return st ? st : nas_final_run_macro(c, d, l, ck, &m, &mean, &sd);
    }
    if (kind != KIND_FINAL) return nas_search_run(c, d, l, ck, &g);
    int st = genotype_parse(&g, genotype_named(c->genotype));
    return st ? st : nas_final_run(c, d, l, ck, &g, &mean, &sd);
}

// Child: a fresh run of `kind` into path, with checkpoints and the hook when h is not NULL.
static int child_run(int kind, const char *path, hook_ctx *h) {
    nas_data d;
    if (quadrant_data(&d)) return 4;
    nas_config c = config_of(kind, path);
    char cfg[16384];
    nas_config_print(&c, cfg, sizeof cfg);
    int final = kind == KIND_FINAL || kind == KIND_MACRO_FINAL;
    const char *label = final ? NAS_FINAL_LABEL : nas_method_label(&c);
    ledger_run_info info = {.method = label, .dataset = d.name, .seed = c.seed,
                            .config_text = cfg};
    ledger *l = NULL;
    int st = ledger_create(&l, path, &info);
    if (st) return 5;
    nas_ckpt ck = {.method = label, .config_text = ledger_attr(l, "config_text"),
                   .what = final ? NAS_DO_FINAL : NAS_DO_SEARCH,
                   .written = on_written, .written_ctx = h};
    st = work(kind, &c, &d, l, h ? &ck : NULL);
    if (st) fprintf(stderr, "child run: %s\n", gh_error_get());
    ledger_close(l, st ? "failed" : "finished");
    return st ? 6 : 0;
}

// Child: --resume path as the commands do it (darts_cli_resume): the config and checkpoint from
// the run, its rows cut back to the checkpoint's, then the same work from there.
static int child_resume(int kind, const char *path) {
    nas_data d;
    if (quadrant_data(&d)) return 4;
    nas_config c;
    nas_ckpt ck;
    int st = nas_resume_open(path, NULL, &c, &ck);
    if (st) {
        fprintf(stderr, "resume: %s\n", gh_error_get());
        return 5;
    }
    ledger *l = NULL;
    if (!(st = ledger_resume_from(&l, path, ck.from))) {
        st = work(kind, &c, &d, l, &ck);
        ledger_close(l, st ? "failed" : "finished");
    }
    if (st) fprintf(stderr, "resumed run: %s\n", gh_error_get());
    nas_resume_close(&ck);
    return st ? 6 : 0;
}

static int wait_child(pid_t pid) {
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
}

static int run_to_end(int kind, const char *path, int resume) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(resume ? child_resume(kind, path) : child_run(kind, path, NULL));
    return wait_child(pid);
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b)) ok = 0;
    return ok;
}

// Runs kind into path with checkpoints; at `pause` (if any) saves the checkpoint just written,
// then kills the run when it reaches `block`. With a pause the saved checkpoint is put back:
// the run file then holds rows recorded after its checkpoint, as after a kill just before the
// next commit. Returns 1 when the run was killed where asked.
static int run_and_kill(int kind, const char *path, stop_at pause, stop_at block) {
    int up[2], down[2];
    if (pipe(up) || pipe(down)) return 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        hook_ctx h = {.pause = pause, .block = block, .to_parent = up[1],
                      .from_parent = down[0]};
        _exit(child_run(kind, path, &h));
    }
    close(up[1]);
    close(down[0]);
    char ck[512], saved[520], b = 0;
    snprintf(ck, sizeof ck, "%s%s", path, LEDGER_CKPT_SUFFIX);
    snprintf(saved, sizeof saved, "%s.saved", ck);
    int ok = 1;
    if (pause.unit >= 0) {
        ok = read(up[0], &b, 1) == 1 && b == 'p' && copy_file(ck, saved) &&
             write(down[1], "g", 1) == 1;
    }
    ok = ok && read(up[0], &b, 1) == 1 && b == 'b';
    kill(pid, SIGKILL);
    int rc = wait_child(pid);
    close(up[0]);
    close(down[1]);
    CHECK_MSG(ok && rc == 128 + SIGKILL, "%s: the run was not stopped at its checkpoint (exit %d)",
              path, rc);
    if (pause.unit >= 0 && ok) ok = rename(saved, ck) == 0;
    return ok && rc == 128 + SIGKILL;
}

// Everything a ledger holds that a resumed run must reproduce, compared field by field.
static void check_same_ledger(const char *want_path, const char *got_path) {
    ledger *a = NULL, *b = NULL;
    CHECK_OK(ledger_open_read(&a, want_path));
    CHECK_OK(ledger_open_read(&b, got_path));
    if (!a || !b) goto done;
    CHECK_MSG(ledger_num_epochs(a) == ledger_num_epochs(b), "%s: %lld epoch rows, want %lld",
              got_path, (long long)ledger_num_epochs(b), (long long)ledger_num_epochs(a));
    for (int64_t i = 0; i < ledger_num_epochs(a) && i < ledger_num_epochs(b); i++) {
        ledger_epoch x, y;
        CHECK_OK(ledger_read_epoch(a, i, &x));
        CHECK_OK(ledger_read_epoch(b, i, &y));
        CHECK_MSG(!strcmp(x.phase, y.phase) && x.trial_id == y.trial_id && x.epoch == y.epoch &&
                      !memcmp(&x.train_loss, &y.train_loss, sizeof(double)) &&
                      !memcmp(&x.train_acc, &y.train_acc, sizeof(double)) &&
                      !memcmp(&x.val_loss, &y.val_loss, sizeof(double)) &&
                      !memcmp(&x.val_acc, &y.val_acc, sizeof(double)) && x.lr == y.lr,
                  "%s: epoch row %lld: %s %lld/%d train_loss %a val_loss %a, want %s %lld/%d "
                  "%a %a", got_path, (long long)i, y.phase, (long long)y.trial_id, y.epoch,
                  y.train_loss, y.val_loss, x.phase, (long long)x.trial_id, x.epoch,
                  x.train_loss, x.val_loss);
    }
    CHECK_MSG(ledger_num_trials(a) == ledger_num_trials(b), "%s: %lld trial rows, want %lld",
              got_path, (long long)ledger_num_trials(b), (long long)ledger_num_trials(a));
    for (int64_t i = 0; i < ledger_num_trials(a) && i < ledger_num_trials(b); i++) {
        ledger_trial x, y;
        CHECK_OK(ledger_read_trial(a, i, &x));
        CHECK_OK(ledger_read_trial(b, i, &y));
        CHECK_MSG(x.id == y.id && !strcmp(x.arch, y.arch) && !strcmp(x.status, y.status) &&
                      !memcmp(&x.val_acc, &y.val_acc, sizeof(double)) &&
                      !memcmp(&x.test_acc, &y.test_acc, sizeof(double)) &&
                      !memcmp(&x.train_loss, &y.train_loss, sizeof(double)) &&
                      !memcmp(&x.val_loss, &y.val_loss, sizeof(double)) &&
                      !memcmp(&x.test_loss, &y.test_loss, sizeof(double)),
                  "%s: trial row %lld: id %lld val_acc %a test_acc %a, want id %lld %a %a",
                  got_path, (long long)i, (long long)y.id, y.val_acc, y.test_acc,
                  (long long)x.id, x.val_acc, x.test_acc);
    }
    CHECK_MSG(ledger_num_artifacts(a) == ledger_num_artifacts(b), "%s: %lld artifacts, want %lld",
              got_path, (long long)ledger_num_artifacts(b), (long long)ledger_num_artifacts(a));
    for (int64_t i = 0; i < ledger_num_artifacts(a) && i < ledger_num_artifacts(b); i++) {
        const char *n = ledger_artifact_name(a, i), *ta, *tb;
        CHECK_MSG(!strcmp(n, ledger_artifact_name(b, i)), "%s: artifact %lld is %s, want %s",
                  got_path, (long long)i, ledger_artifact_name(b, i), n);
        if (!strncmp(n, "alphas", 6)) {
            int ra, ca, rb, cb;
            const float *da, *db;
            CHECK_OK(ledger_get_matrix(a, n, &ra, &ca, &da));
            CHECK_OK(ledger_get_matrix(b, n, &rb, &cb, &db));
            CHECK_MSG(ra == rb && ca == cb && !memcmp(da, db, sizeof(float) * ra * ca),
                      "%s: %s differs", got_path, n);
        } else if (!ledger_get_text(a, n, &ta) && !ledger_get_text(b, n, &tb)) {
            CHECK_MSG(!strcmp(ta, tb), "%s: %s is '%.80s', want '%.80s'", got_path, n, tb, ta);
        }
    }
    cost_totals ca, cb;
    CHECK(ledger_phase_cost(a, NULL, &ca) == ledger_phase_cost(b, NULL, &cb));
    CHECK_MSG(ledger_phase_cost(a, NULL, &ca) >= 1, "%s: no phase cost", want_path);
    const char *status = ledger_run_status(b);
    CHECK_MSG(!strcmp(status, "finished"), "%s: status %s", got_path, status);
done:
    ledger_close(a, NULL);
    ledger_close(b, NULL);
}

static const stop_at NONE = {.unit = -1};

// One killed-and-resumed run against the uninterrupted reference `ref`.
static void kill_resume(int kind, const char *ref, const char *name, stop_at pause,
                        stop_at block) {
    char path[256];
    snprintf(path, sizeof path, "nas_resume_%s.h5", name);
    unlink(path);
    char ck[300];
    snprintf(ck, sizeof ck, "%s%s", path, LEDGER_CKPT_SUFFIX);
    unlink(ck);
    double t0 = gh_wall_seconds();
    if (!run_and_kill(kind, path, pause, block)) return;
    int rc = run_to_end(kind, path, 1);
    CHECK_MSG(rc == 0, "%s: the resumed run exited %d", name, rc);
    if (rc == 0) check_same_ledger(ref, path);
    printf("%-22s killed and resumed: %.1f s\n", name, gh_wall_seconds() - t0);
}

static void reference(int kind, const char *path) {
    unlink(path);
    double t0 = gh_wall_seconds();
    int rc = run_to_end(kind, path, 0);
    CHECK_MSG(rc == 0, "%s: the uninterrupted run exited %d", path, rc);
    printf("%-22s uninterrupted: %.1f s\n", path, gh_wall_seconds() - t0);
}

int main(void) {
    const int S = NAS_DO_SEARCH, F = NAS_DO_FINAL;
    // DARTS second order: 3 epochs of 3 steps (48 weight-training images, batch 16)
    reference(KIND_DARTS, "nas_resume_darts_ref.h5");
    // killed mid-epoch 1 (the next step is 1 of 3)
    kill_resume(KIND_DARTS, "nas_resume_darts_ref.h5", "darts_mid",
                NONE, (stop_at){S, 0, 1, 1, 1});
    // the checkpoint before epoch 1's last step put back after the epoch's rows were recorded
    kill_resume(KIND_DARTS, "nas_resume_darts_ref.h5", "darts_rows",
                (stop_at){S, 0, 1, 1, 2}, (stop_at){S, 0, 1, 2, 0});

    // random-ws: 3 epochs of shared-weight training, then 4 genotypes scored
    reference(KIND_WS, "nas_resume_ws_ref.h5");
    kill_resume(KIND_WS, "nas_resume_ws_ref.h5", "ws_mid", NONE, (stop_at){S, 0, 1, 2, 2});
    // between scored genotypes: after the second's checkpoint, with the third's row recorded
    kill_resume(KIND_WS, "nas_resume_ws_ref.h5", "ws_scoring",
                (stop_at){S, 3, 0, 0, 0}, (stop_at){S, 4, 0, 0, 0});

    // ENAS: 3 epochs of 3 child steps, each epoch followed by controller training, then the
    // derive; the controller's parameters, Adam moments, draws and baseline come back too
    reference(KIND_ENAS, "nas_resume_enas_ref.h5");
    kill_resume(KIND_ENAS, "nas_resume_enas_ref.h5", "enas_mid", NONE, (stop_at){S, 0, 1, 1, 1});
    kill_resume(KIND_ENAS, "nas_resume_enas_ref.h5", "enas_rows",
                (stop_at){S, 0, 1, 1, 2}, (stop_at){S, 0, 1, 2, 0});

    // ENAS's macro space: the same loop with the macro controller and network
    reference(KIND_MACRO, "nas_resume_macro_ref.h5");
    kill_resume(KIND_MACRO, "nas_resume_macro_ref.h5", "macro_mid", NONE, (stop_at){S, 0, 1, 1, 1});
    // a macro arc's final training, mid-epoch 1 of the second seed
    reference(KIND_MACRO_FINAL, "nas_resume_macro_final_ref.h5");
    kill_resume(KIND_MACRO_FINAL, "nas_resume_macro_final_ref.h5", "macro_final_mid",
                NONE, (stop_at){F, 1, 1, 1, 2});

    // final training of DARTS_V2 over seeds 4 and 9, 2 epochs of 6 steps each
    reference(KIND_FINAL, "nas_resume_final_ref.h5");
    // mid-epoch 1 of the second seed
    kill_resume(KIND_FINAL, "nas_resume_final_ref.h5", "final_mid",
                NONE, (stop_at){F, 1, 1, 1, 2});
    // the first seed's last checkpoint put back after its trial row and phase cost
    kill_resume(KIND_FINAL, "nas_resume_final_ref.h5", "final_seed_rows",
                (stop_at){F, 0, 1, 2, 0}, (stop_at){F, 1, 0, 0, 0});
    // regularized evolution and the NASNet controller: killed after the third child's row with
    // the second's checkpoint put back (the population and the controller, with a batch of one
    // child pending, come back from the checkpoint; the third child is trained again)
    reference(KIND_REGEVO, "nas_resume_regevo_ref.h5");
    kill_resume(KIND_REGEVO, "nas_resume_regevo_ref.h5", "regevo_children",
                (stop_at){S, 3, 0, 0, 0}, (stop_at){S, 4, 0, 0, 0});
    reference(KIND_RL, "nas_resume_rl_ref.h5");
    kill_resume(KIND_RL, "nas_resume_rl_ref.h5", "rl_children",
                (stop_at){S, 4, 0, 0, 0}, (stop_at){S, 5, 0, 0, 0});
    return check_done("test_nas_resume");
}
