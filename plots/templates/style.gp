# gpuhours figure style: loaded by every script `gpuhours plot` writes, after its defaults
# (terminal, key, grid), so that editing this file restyles every figure on the next
# `gnuplot NAME.gp` or `gpuhours plot`. Line types 1-8: Paul Tol's colour-blind-safe "bright"
# scheme, then repeated with dashes.
set linetype 1 lc rgb "#4477AA" lw 2 pt 5
set linetype 2 lc rgb "#EE6677" lw 2 pt 7
set linetype 3 lc rgb "#228833" lw 2 pt 9
set linetype 4 lc rgb "#CCBB44" lw 2 pt 11
set linetype 5 lc rgb "#66CCEE" lw 2 pt 13
set linetype 6 lc rgb "#AA3377" lw 2 pt 15
set linetype 7 lc rgb "#BBBBBB" lw 2 pt 4
set linetype 8 lc rgb "#000000" lw 2 pt 6
set linetype cycle 8
