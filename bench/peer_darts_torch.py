#!/usr/bin/python3
"""peer_darts_torch: the DARTS search supernet and one search step in PyTorch, written for
gpuhours' bench (same network as models/supernet.c: DARTS's model_search.py, BN without affine,
pools followed by BN in the mixed op; same step as search/darts.c: first order, or second order
with the unrolled weight step and the finite-difference Hessian-vector product). Times a step at
the same threads as bench_darts so the two can be compared. --final NAME times the final-training
step of the genotype's evaluation network instead (DARTS's model.py NetworkCIFAR: auxiliary head
weight 0.4, drop-path 0.2, SGD 0.9 with weight decay 3e-4, clipping 5), as bench_darts --final.

usage: /usr/bin/python3 bench/peer_darts_torch.py [--layers 8 --channels 16 --batch 64
       --size 32 --order 0 --repeat 3 --warmup 1 --threads N --device cpu|cuda]
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRIMITIVES = ['none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3',
              'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5']


def relu_conv_bn(cin, cout, k, stride, pad, dil=1, groups=1):
    return [nn.ReLU(inplace=False), nn.Conv2d(cin, cout, k, stride, pad, dil, groups, bias=False)]


class SepConv(nn.Module):
    def __init__(self, c, k, stride, pad):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, k, stride, pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False),
            nn.ReLU(), nn.Conv2d(c, c, k, 1, pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False))

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    def __init__(self, c, k, stride, pad, dil):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, k, stride, pad, dil, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False))

    def forward(self, x):
        return self.op(x)


class FactorizedReduce(nn.Module):
    def __init__(self, cin, cout, affine=False):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout // 2, 1, 2, bias=False)
        self.c2 = nn.Conv2d(cin, cout // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, affine=affine)

    def forward(self, x):
        x = F.relu(x)
        return self.bn(torch.cat([self.c1(x), self.c2(x[:, :, 1:, 1:])], dim=1))


class RCB(nn.Module):
    def __init__(self, cin, cout, affine=False):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(), nn.Conv2d(cin, cout, 1, bias=False),
                                nn.BatchNorm2d(cout, affine=affine))

    def forward(self, x):
        return self.op(x)


def make_op(name, c, stride):
    if name == 'none':
        return None
    if name == 'max_pool_3x3':
        return nn.Sequential(nn.MaxPool2d(3, stride, 1), nn.BatchNorm2d(c, affine=False))
    if name == 'avg_pool_3x3':
        return nn.Sequential(nn.AvgPool2d(3, stride, 1, count_include_pad=False),
                             nn.BatchNorm2d(c, affine=False))
    if name == 'skip_connect':
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if name == 'sep_conv_3x3':
        return SepConv(c, 3, stride, 1)
    if name == 'sep_conv_5x5':
        return SepConv(c, 5, stride, 2)
    if name == 'dil_conv_3x3':
        return DilConv(c, 3, stride, 2, 2)
    return DilConv(c, 5, stride, 4, 2)


class MixedOp(nn.Module):
    def __init__(self, c, stride):
        super().__init__()
        self.ops = nn.ModuleList([m for m in (make_op(p, c, stride) for p in PRIMITIVES)
                                  if m is not None])

    def forward(self, x, w):
        # w[0] is 'none': contributes zero
        return sum(wk * op(x) for wk, op in zip(w[1:], self.ops))


class Cell(nn.Module):
    def __init__(self, steps, mult, cpp, cp, c, red, red_prev):
        super().__init__()
        self.red = red
        self.pre0 = FactorizedReduce(cpp, c) if red_prev else RCB(cpp, c)
        self.pre1 = RCB(cp, c)
        self.steps, self.mult = steps, mult
        self.ops = nn.ModuleList(MixedOp(c, 2 if red and j < 2 else 1)
                                 for i in range(steps) for j in range(2 + i))

    def forward(self, s0, s1, weights):
        states = [self.pre0(s0), self.pre1(s1)]
        off = 0
        for i in range(self.steps):
            s = sum(self.ops[off + j](h, weights[off + j]) for j, h in enumerate(states))
            off += len(states)
            states.append(s)
        return torch.cat(states[-self.mult:], dim=1)


class Network(nn.Module):
    def __init__(self, c, classes, layers, in_c=3, steps=4, mult=4, stem=3):
        super().__init__()
        cc = stem * c
        self.stem = nn.Sequential(nn.Conv2d(in_c, cc, 3, padding=1, bias=False), nn.BatchNorm2d(cc))
        cpp, cp, cc = cc, cc, c
        self.cells = nn.ModuleList()
        red_prev = False
        for i in range(layers):
            red = i in (layers // 3, 2 * layers // 3)
            if red:
                cc *= 2
            self.cells.append(Cell(steps, mult, cpp, cp, cc, red, red_prev))
            red_prev = red
            cpp, cp = cp, mult * cc
        self.classifier = nn.Linear(cp, classes)
        k = sum(2 + i for i in range(steps))
        self.alphas = [(1e-3 * torch.randn(k, len(PRIMITIVES))).requires_grad_(True)
                       for _ in range(2)]

    def forward(self, x):
        s0 = s1 = self.stem(x)
        wn = F.softmax(self.alphas[0], dim=-1)
        wr = F.softmax(self.alphas[1], dim=-1)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, wr if cell.red else wn)
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))


# genotypes.py
GENOTYPES = {
    'DARTS_V2': (
        [('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1),
         ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)],
        [2, 3, 4, 5],
        [('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1),
         ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)],
        [2, 3, 4, 5]),
}


def eval_op(name, c, stride):
    """operations.py OPS with affine batch norm; pools without batch norm (model.py)."""
    if name == 'max_pool_3x3':
        return nn.MaxPool2d(3, stride, 1)
    if name == 'avg_pool_3x3':
        return nn.AvgPool2d(3, stride, 1, count_include_pad=False)
    if name == 'skip_connect':
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine=True)
    k, pad, dil = {'sep_conv_3x3': (3, 1, 1), 'sep_conv_5x5': (5, 2, 1),
                   'dil_conv_3x3': (3, 2, 2), 'dil_conv_5x5': (5, 4, 2)}[name]
    if name.startswith('sep'):
        return nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, k, stride, pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c),
            nn.ReLU(), nn.Conv2d(c, c, k, 1, pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, k, stride, pad, dil, groups=c, bias=False),
                         nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))


def drop_path(x, p):
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device).bernoulli_(1 - p)
    return x / (1 - p) * mask


class EvalCell(nn.Module):
    def __init__(self, genotype, cpp, cp, c, red, red_prev):
        super().__init__()
        self.pre0 = FactorizedReduce(cpp, c, affine=True) if red_prev else RCB(cpp, c, True)
        self.pre1 = RCB(cp, c, True)
        ops, concat = (genotype[2], genotype[3]) if red else (genotype[0], genotype[1])
        self.ops = nn.ModuleList(eval_op(n, c, 2 if red and i < 2 else 1) for n, i in ops)
        self.idx = [i for _, i in ops]
        self.concat = concat
        self.mult = len(concat)

    def forward(self, s0, s1, p):
        states = [self.pre0(s0), self.pre1(s1)]
        for i in range(len(self.ops) // 2):
            hs = []
            for j in (2 * i, 2 * i + 1):
                op = self.ops[j]
                h = op(states[self.idx[j]])
                if self.training and p > 0 and not isinstance(op, nn.Identity):
                    h = drop_path(h, p)
                hs.append(h)
            states.append(hs[0] + hs[1])
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxHead(nn.Module):
    def __init__(self, c, classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(768, classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class NetworkCIFAR(nn.Module):
    def __init__(self, c, classes, layers, genotype, in_c=3, stem=3):
        super().__init__()
        cc = stem * c
        self.stem = nn.Sequential(nn.Conv2d(in_c, cc, 3, padding=1, bias=False), nn.BatchNorm2d(cc))
        cpp, cp, cc = cc, cc, c
        self.cells = nn.ModuleList()
        self.aux_at = 2 * layers // 3
        red_prev = False
        for i in range(layers):
            red = i in (layers // 3, 2 * layers // 3)
            if red:
                cc *= 2
            cell = EvalCell(genotype, cpp, cp, cc, red, red_prev)
            self.cells.append(cell)
            red_prev = red
            cpp, cp = cp, cell.mult * cc
            if i == self.aux_at:
                aux_c = cp
        self.aux = AuxHead(aux_c, classes)
        self.classifier = nn.Linear(cp, classes)
        self.drop_path_prob = 0.0

    def forward(self, x):
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_at and self.training:
                aux = self.aux(s1)
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1)), aux


def final_step(net, opt, x, y):
    """train.py: loss + 0.4 auxiliary loss, clip 5, SGD step."""
    opt.zero_grad()
    logits, aux = net(x)
    loss = F.cross_entropy(logits, y) + 0.4 * F.cross_entropy(aux, y)
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), 5.0)
    opt.step()


def search_step(net, wopt, aopt, xt, yt, xv, yv, lr, order, momentum=0.9, wd=3e-4):
    params = list(net.parameters())
    aopt.zero_grad()
    if order == 1:
        F.cross_entropy(net(xv), yv).backward()
    else:
        # w' = w - lr (momentum buf + grad_w L_train + wd w)  (architect.py)
        saved = [p.detach().clone() for p in params]
        g = torch.autograd.grad(F.cross_entropy(net(xt), yt), params)
        with torch.no_grad():
            for p, gi in zip(params, g):
                buf = wopt.state[p].get('momentum_buffer') if p in wopt.state else None
                p.sub_(lr * ((momentum * buf if buf is not None else 0) + gi + wd * p))
        loss = F.cross_entropy(net(xv), yv)
        grads = torch.autograd.grad(loss, params + net.alphas)
        v, dalpha = grads[:len(params)], grads[len(params):]
        eps = 0.01 / torch.cat([t.reshape(-1) for t in v]).norm()
        with torch.no_grad():
            for p, s, vi in zip(params, saved, v):
                p.copy_(s + eps * vi)
        gp = torch.autograd.grad(F.cross_entropy(net(xt), yt), net.alphas)
        with torch.no_grad():
            for p, s, vi in zip(params, saved, v):
                p.copy_(s - eps * vi)
        gn = torch.autograd.grad(F.cross_entropy(net(xt), yt), net.alphas)
        with torch.no_grad():
            for p, s in zip(params, saved):
                p.copy_(s)
        for a, d, p_, n_ in zip(net.alphas, dalpha, gp, gn):
            a.grad = d - lr * (p_ - n_) / (2 * eps)
    aopt.step()
    wopt.zero_grad()
    loss = F.cross_entropy(net(xt), yt)
    loss.backward()
    nn.utils.clip_grad_norm_(params, 5.0)
    wopt.step()


def timed_steps(step, dev, warmup, repeat):
    """Runs step() warmup + repeat times; the wall and process CPU seconds (all threads) of the
    last repeat, each sorted."""
    ts, cs = [], []
    for i in range(warmup + repeat):
        if dev.type == 'cuda':
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        if dev.type == 'cuda':
            torch.cuda.synchronize()
        if i >= warmup:
            ts.append(time.perf_counter() - t0)
            cs.append(time.process_time() - c0)
    return sorted(ts), sorted(cs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--layers', type=int, default=8)
    ap.add_argument('--channels', type=int, default=16)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--size', type=int, default=32)
    ap.add_argument('--classes', type=int, default=10)
    ap.add_argument('--order', type=int, default=0)
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--final', default='')
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    dev = torch.device(a.device)
    if dev.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    xt = torch.randn(a.batch, 3, a.size, a.size, device=dev)
    xv = torch.randn(a.batch, 3, a.size, a.size, device=dev)
    yt = torch.randint(0, a.classes, (a.batch,), device=dev)
    yv = torch.randint(0, a.classes, (a.batch,), device=dev)
    if a.final:
        net = NetworkCIFAR(a.channels, a.classes, a.layers, GENOTYPES[a.final]).to(dev)
        net.drop_path_prob = 0.2
        opt = torch.optim.SGD(net.parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
        nparams = sum(p.numel() for p in net.parameters())
        print(f"# peer_darts_torch: torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"{nparams} weights, {a.device}, {a.final} {a.layers} cells C={a.channels}, "
              f"batch {a.batch}")
        ts, cs = timed_steps(lambda: final_step(net, opt, xt, yt), dev, a.warmup, a.repeat)
        print(f"torch final=1 step_s p50 {ts[len(ts) // 2]:.4f} min {ts[0]:.4f} max {ts[-1]:.4f}  "
              f"cpu_s p50 {cs[len(cs) // 2]:.4f}")
        return
    nparams = sum(p.numel() for p in Network(a.channels, a.classes, a.layers).parameters())
    print(f"# peer_darts_torch: torch {torch.__version__}, {torch.get_num_threads()} threads, {nparams} weights, "
          f"{a.device}, supernet {a.layers} cells C={a.channels}, batch {a.batch}")
    for order in (1, 2):
        if a.order and order != a.order:
            continue
        net = Network(a.channels, a.classes, a.layers).to(dev)
        net.alphas = [t.to(dev).detach().requires_grad_(True) for t in net.alphas]
        wopt = torch.optim.SGD(net.parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
        aopt = torch.optim.Adam(net.alphas, 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
        ts, cs = timed_steps(lambda: search_step(net, wopt, aopt, xt, yt, xv, yv, 0.025, order),
                             dev, a.warmup, a.repeat)
        print(f"torch order={order} step_s p50 {ts[len(ts) // 2]:.4f} min {ts[0]:.4f} "
              f"max {ts[-1]:.4f}  cpu_s p50 {cs[len(cs) // 2]:.4f}")


if __name__ == '__main__':
    main()
