// cli: the gnuplot side of `gpuhours plot`: output files, the script header every figure
// shares (formats, key, grid, the style template), and running gnuplot on a script.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "plot.h"

// Opens DIR/NAME.EXT for writing.
FILE *plot_open_out(const plot_config *c, const char *name, const char *ext) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s.%s", c->out_dir, name, ext);
    FILE *f = fopen(p, "w");
    if (!f) gh_fail(GH_EIO, "%s: cannot write: %s", p, strerror(errno));
    return f;
}

// The header every script shares: one loop draws the same figure as PNG, PDF and cairolatex
// (NAME-tex.tex + NAME-tex.pdf: the text is typeset by LaTeX in the paper's fonts; `pc` is the
// format's percent sign, nm(s) escapes '_' for LaTeX in a `using` column, whose strings
// gnuplot unescapes once more, hence the doubled backslash). Text is
// noenhanced so that method names with '_' or '^' print as written; the key sits outside the
// plot area, right of it, so that it never covers data. The style template (plots/templates/
// style.gp: line colours, widths) is loaded last, so that editing it restyles every figure.
void plot_gp_begin(FILE *g, const plot_config *c, const char *name, const char *what) {
    fprintf(g, "# gpuhours plot: %s\n# Data: %s.dat. Edit this file and rerun: gnuplot %s.gp\n"
               "do for [fmt in \"png pdf tex\"] {\n"
               "pc = (fmt eq \"tex\") ? \"\\\\%%\" : \"%%\"\n"
               "texesc(s) = strstrt(s, \"_\") ? s[1:strstrt(s, \"_\") - 1].\"\\\\\\\\_\"."
               "texesc(s[strstrt(s, \"_\") + 1:]) : s\n"
               "nm(s) = (fmt eq \"tex\") ? texesc(s) : s\n"
               "if (fmt eq \"png\") {\n"
               "  set terminal pngcairo size 1000,700 noenhanced font \"Sans,13\" linewidth 1.5\n"
               "  set output \"%s.png\"\n"
               "} else { if (fmt eq \"pdf\") {\n"
               "  set terminal pdfcairo size 6in,4.2in noenhanced font \"Sans,10\"\n"
               "  set output \"%s.pdf\"\n"
               "} else {\n"
               "  set terminal cairolatex pdf input size 6in,4.2in\n"
               "  set output \"%s-tex.tex\"\n"
               "} }\n"
               "set key outside right top vertical Left reverse box\n"
               "set grid lc rgb \"#dddddd\"\n"
               "set border 3\nset tics nomirror\n",
            what, name, name, name, name, name);
    if (c->style) fprintf(g, "load \"%s\"\n", c->style);
}

void plot_gp_end(FILE *g) { fprintf(g, "unset output\n}\n"); }

int plot_gnuplot(const plot_config *c, const char *name) {
    char script[512];
    snprintf(script, sizeof script, "%s.gp", name);
    pid_t pid = fork();
    if (pid < 0) return gh_fail(GH_EIO, "cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(c->out_dir) < 0) _exit(126);
        execlp(c->gnuplot, c->gnuplot, script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
        return gh_fail(GH_EIO, "gnuplot ('%s') could not be run; %s/%s.gp and .dat are written",
                       c->gnuplot, c->out_dir, name);
    if (WEXITSTATUS(status))
        return gh_fail(GH_EIO, "gnuplot failed (exit %d) on %s/%s.gp", WEXITSTATUS(status),
                       c->out_dir, name);
    printf("  %s/%s.{png,pdf,dat,gp}, %s-tex.{tex,pdf}\n", c->out_dir, name, name);
    return GH_OK;
}

void plot_file_safe(char *dst, size_t len, const char *s) {
    size_t i = 0;
    for (; *s && i + 1 < len; s++)
        dst[i++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                                  (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'
                              ? *s
                              : '_');
    dst[i] = 0;
}

