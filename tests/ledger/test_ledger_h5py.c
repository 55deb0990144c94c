// tests/ledger: Python users read our files: /usr/bin/python3 with h5py and pandas opens a
// finished run and a run whose writer was killed (plain h5py.File(path, "r"), no swmr flag),
// builds pandas.DataFrame(f["trials"][:]) and checks columns and values against the fixture.
// SKIPPED (77) when h5py or pandas cannot be imported; the test installs nothing.
#include <signal.h>
#include <sys/wait.h>

#include "check.h"
#include "ledger_fixture.h"

static const char *script =
    "import sys, math, h5py, pandas\n"
    "path, n_min = sys.argv[1], int(sys.argv[2])\n"
    "f = h5py.File(path, 'r')\n"
    "df = pandas.DataFrame(f['trials'][:])\n"
    "df = df[df.committed == 1]\n"
    "want = ['id','arch','learner','fidelity','train_acc','val_acc','test_acc','train_loss',\n"
    "        'val_loss','test_loss','madds','params','wall_s','cpu_s','device_s','busy_gpu_s',\n"
    "        'energy_j','peak_mem_bytes','run_time_s','status','worker','committed']\n"
    "assert list(df.columns) == want, list(df.columns)\n"
    "assert len(df) >= n_min, (len(df), n_min)\n"
    "assert list(df.id) == list(range(len(df)))\n"
    "for i, r in df.iterrows():\n"
    "    assert abs(r.test_acc - (0.3 + 0.0005 * i)) < 1e-12, (i, r.test_acc)\n"
    "    assert r.madds == 1e6 * (i + 1) and r.params == 1000 + i\n"
    "    assert math.isnan(r.energy_j) == (i % 2 == 1)\n"
    "    assert r.learner == (b'xgboost' if i % 2 else b'')\n"
    "    assert r.arch.startswith(b'@artifact:arch/%d ' % i if i % 7 == 3 else b'Genotype(')\n"
    "a = f.attrs\n"
    "assert a['creator'] == 'gpuhours' and int(a['schema_version']) == 1\n"
    "assert a['method'] == 'cfo' and a['dataset'] == 'credit-g' and a['seed'] == '3'\n"
    "assert a['status'] in (b'finished', b'running'), a['status']\n"
    "ep = pandas.DataFrame(f['epochs'][:])\n"
    "assert {'phase','epoch','val_acc','lr','wall_s'} <= set(ep.columns)\n"
    "arts = pandas.DataFrame(f['artifacts'][:])\n"
    "r = arts[arts.name == b'best'].iloc[-1]\n"
    "text = f['artifact_text'][r.offset:r.offset + r.length].tobytes().decode()\n"
    "assert text == 'best config {\"eta\": 0.1}', text\n"
    "m = arts[arts.name == b'alpha'].iloc[-1]\n"
    "alpha = f['artifact_data'][m.offset:m.offset + m.length].reshape(m.rows, m.cols)\n"
    "assert alpha.shape == (2, 3) and alpha[1, 2] == 5.0\n"
    "print('h5py+pandas read', len(df), 'trials from', path, 'status', a['status'])\n";

static void write_run(const char *path, int n, int close_it) {
    ledger *l = NULL;
    ledger_run_info info = fixture_info("cfo", "credit-g", 3);
    if (ledger_create(&l, path, &info)) {
        fprintf(stderr, "%s\n", gh_error_get());
        _exit(1);
    }
    char arch[4096];
    float alpha[6] = {0, 1, 2, 3, 4, 5};
    ledger_put_text(l, "best", "best config {\"eta\": 0.1}");
    ledger_put_matrix(l, "alpha", 2, 3, alpha);
    for (int i = 0; i < n; i++) {
        ledger_trial t = fixture_trial(i, arch, sizeof arch);
        ledger_append_trial(l, &t);
        ledger_epoch e = {"search", i, i, 1, 0.5, 1, 0.5, 0.01, {1, 1, 0, NAN, NAN, 0}};
        ledger_append_epoch(l, &e);
    }
    if (close_it) ledger_close(l, "finished");
}

int main(void) {
    if (access("/usr/bin/python3", X_OK) ||
        system("/usr/bin/python3 -c 'import h5py, pandas' >/dev/null 2>&1"))
        check_skip("test_ledger_h5py", "/usr/bin/python3 with h5py and pandas not available");
    char dir[64], p1[256], p2[256], sp[256], cmd[1024];
    fixture_tmpdir(dir, sizeof dir, "h5py");
    snprintf(sp, sizeof sp, "%s/check.py", dir);
    FILE *f = fopen(sp, "w");
    if (!f) return 1;
    fputs(script, f);
    fclose(f);

    snprintf(p1, sizeof p1, "%s/finished.h5", dir);
    write_run(p1, 30, 1);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s 30", sp, p1);
    CHECK_MSG(system(cmd) == 0, "python check failed on %s", p1);

    // a writer killed after 20 trials: h5py opens it as it is
    snprintf(p2, sizeof p2, "%s/killed.h5", dir);
    pid_t pid = fork();
    if (pid == 0) {
        write_run(p2, 20, 0);
        raise(SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s 20", sp, p2);
    CHECK_MSG(system(cmd) == 0, "python check failed on %s", p2);
    return check_done("test_ledger_h5py");
}
