"""Peer for `cargo xtask bench` rows G and H (PyTorch CPU, f32): one maximum-likelihood
training step (forward, loss, backward, Adam) of the same model as ours.

cinn-conv1d (row G): a cINN on LorentzSpectrum data (x: 9 parameters -- three sorted peak
  positions U[0.1, 0.9], half widths U[0.005, 0.03], heights U[0.5, 1.5]; y: 200 bins of
  three Lorentzians plus N(0, 0.05^2) noise), conditioned on a conv1d summary network h(y)
  trained jointly: the library's default `SummaryConfig::conv1d` -- input channel plus the
  normalised position (t + 1/2)/bins as a second channel, Conv1d 2->32->64->64 (kernel 7,
  stride 2, no padding), ReLU after each, global average pooling over the positions, Linear
  64->64 (He initialisation). Flow: the default cINN stack, 8 FrEIA GLOWCouplingBlocks
  (clamp 2, ATAN) whose subnets read their half and the 64 summary features,
  in->512->ReLU->out (weights N(0, 0.05^2)), each followed by PermuteRandom. Loss
  mean(0.5*|z|^2 - logdet); Adam lr 1e-3, betas (0.8, 0.9), eps 1e-6, L2 weight decay 2e-5,
  gradients clamped to [-15, 15]; minibatches drawn with replacement from 64 * batch rows.
spline-mle (row H): a 2-D flow of 8 two-sided rational-quadratic spline couplings (Durkan et
  al. 2019, following nflows' `unconstrained_rational_quadratic_spline` with linear tails:
  K bins on [-3, 3], identity outside, minimum bin width/height/derivative 1e-3, end
  derivatives 1, interior derivatives 1e-3 + softplus(u + ln(e^(1 - 1e-3) - 1)) as ours):
  y1 = g(x1; net2(x2)), y2 = g(x2; net1(y1)); subnets 1->H->ReLU->H->ReLU->(3K-1) with
  PyTorch's default initialisation; each block followed by a fixed random permutation. Data:
  BoundedModes (eight raised-cosine bumps on the black cells of a 4x4 checkerboard over
  [-2, 2]^2), 64 * batch rows, minibatches drawn with replacement. Loss mean(0.5*|z|^2 -
  logdet); Adam lr 1e-3 (PyTorch defaults otherwise), no clipping.

Prints, per run, one line "peer-summary-spline <model> ...: S steps/s (T ms/step)" timed over a window of
--seconds after 10 warm-up steps.
"""
import argparse, math, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("model", choices=["cinn-conv1d", "spline-mle"])
p.add_argument("--bins", type=int, default=200, help="spectrum bins (cinn-conv1d)")
p.add_argument("--spline-bins", type=int, default=8, help="spline bins K (spline-mle)")
p.add_argument("--hidden", type=int, default=None)
p.add_argument("--blocks", type=int, default=8)
p.add_argument("--batch", type=int, default=256)
p.add_argument("--seconds", type=float, default=3.0)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
rng = np.random.default_rng(0)
n_rows = 64 * a.batch


def lorentz_spectra(n, bins, noise=0.05):
    pos = np.sort(rng.uniform(0.1, 0.9, (n, 3)), axis=1)
    wid = rng.uniform(0.005, 0.03, (n, 3))
    hgt = rng.uniform(0.5, 1.5, (n, 3))
    u = (np.arange(bins) + 0.5) / bins
    r = (u[None, None, :] - pos[:, :, None]) / wid[:, :, None]
    y = (hgt[:, :, None] / (1.0 + r * r)).sum(1) + noise * rng.standard_normal((n, bins))
    x = np.concatenate([pos, wid, hgt], axis=1)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def bounded_modes(n):
    centres = np.array([[-1.5 + i, -1.5 + j] for i in range(4) for j in range(4) if (i + j) % 2 == 0])
    out = np.empty((n, 2))
    c = centres[rng.integers(0, len(centres), n)]
    for j in range(2):
        t = np.empty(n); todo = np.arange(n)
        while len(todo):
            cand = rng.uniform(-0.5, 0.5, len(todo))
            ok = rng.uniform(0, 2, len(todo)) < 1 + np.cos(2 * np.pi * cand)
            t[todo[ok]] = cand[ok]; todo = todo[~ok]
        out[:, j] = c[:, j] + t
    return torch.tensor(out, dtype=torch.float32)


class ConvSummary(nn.Module):
    """The default conv1d summary: [y, position] -> 3 strided convolutions -> mean -> dense."""

    def __init__(self, bins, channels=(32, 64, 64), kernel=7, stride=2, out_dim=64):
        super().__init__()
        convs, c_in = [], 2
        for c_out in channels:
            conv = nn.Conv1d(c_in, c_out, kernel, stride=stride)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu"); nn.init.zeros_(conv.bias)
            convs += [conv, nn.ReLU()]
            c_in = c_out
        self.convs = nn.Sequential(*convs)
        self.head = nn.Linear(c_in, out_dim)
        self.out_dim = out_dim
        nn.init.kaiming_normal_(self.head.weight, nonlinearity="relu"); nn.init.zeros_(self.head.bias)
        self.register_buffer("position", ((torch.arange(bins) + 0.5) / bins).view(1, 1, bins))

    def forward(self, y):
        h = torch.cat([y.unsqueeze(1), self.position.expand(y.shape[0], 1, -1)], dim=1)
        return self.head(self.convs(h).mean(dim=2))


def rq_spline(inputs, uw, uh, ud, bound=3.0, min_w=1e-3, min_h=1e-3, min_d=1e-3):
    """Forward rational-quadratic spline per entry (nflows' unconstrained RQS, linear tails):
    inputs (n,), uw, uh (n, K), ud (n, K-1) -> outputs (n,), log g'(inputs) (n,)."""
    inside = (inputs >= -bound) & (inputs <= bound)
    outputs = inputs.clone()
    logabsdet = torch.zeros_like(inputs)
    shift = math.log(math.expm1(1.0 - min_d))
    ud = F.pad(ud[inside] + shift, (1, 1), value=shift)
    x = inputs[inside]
    K = uw.shape[-1]
    widths = min_w + (1 - min_w * K) * torch.softmax(uw[inside], dim=-1)
    cumw = F.pad(torch.cumsum(widths, dim=-1), (1, 0), value=0.0)
    cumw = 2 * bound * cumw - bound
    cumw[..., 0] = -bound; cumw[..., -1] = bound
    widths = cumw[..., 1:] - cumw[..., :-1]
    derivs = min_d + F.softplus(ud)
    heights = min_h + (1 - min_h * K) * torch.softmax(uh[inside], dim=-1)
    cumh = F.pad(torch.cumsum(heights, dim=-1), (1, 0), value=0.0)
    cumh = 2 * bound * cumh - bound
    cumh[..., 0] = -bound; cumh[..., -1] = bound
    heights = cumh[..., 1:] - cumh[..., :-1]
    idx = (torch.searchsorted(cumw.detach(), x.detach().unsqueeze(-1), right=True) - 1).clamp_(0, K - 1)
    g = lambda t: t.gather(-1, idx)[..., 0]
    xk, w, yk, h = g(cumw), g(widths), g(cumh), g(heights)
    s = h / w
    dl, dr = g(derivs), g(derivs[..., 1:])
    theta = (x - xk) / w
    tt = theta * (1 - theta)
    num = h * (s * theta.pow(2) + dl * tt)
    den = s + (dr + dl - 2 * s) * tt
    outputs[inside] = yk + num / den
    dnum = s.pow(2) * (dr * theta.pow(2) + 2 * s * tt + dl * (1 - theta).pow(2))
    logabsdet[inside] = torch.log(dnum) - 2 * torch.log(den)
    return outputs, logabsdet


class SplineCoupling(nn.Module):
    """Two-sided RQ spline coupling on 2-D batches (one coordinate per half), then a permutation."""

    def __init__(self, hidden, bins, perm):
        super().__init__()
        per = 3 * bins - 1
        net = lambda: nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, per))
        self.net1, self.net2, self.bins = net(), net(), bins
        self.register_buffer("perm", perm)

    def spline(self, u, raw):
        K = self.bins
        return rq_spline(u, raw[:, :K], raw[:, K:2 * K], raw[:, 2 * K:])

    def forward(self, x):
        x1, x2 = x[:, 0], x[:, 1]
        y1, ld1 = self.spline(x1, self.net2(x2.unsqueeze(1)))
        y2, ld2 = self.spline(x2, self.net1(y1.unsqueeze(1)))
        return torch.stack([y1, y2], dim=1)[:, self.perm], ld1 + ld2


if a.model == "cinn-conv1d":
    import FrEIA.framework as Ff, FrEIA.modules as Fm
    hidden = a.hidden or 512
    x_all, y_all = lorentz_spectra(n_rows, a.bins)
    summary = ConvSummary(a.bins)
    sub = lambda i, o: nn.Sequential(nn.Linear(i, hidden), nn.ReLU(), nn.Linear(hidden, o))
    inn = Ff.SequenceINN(9)
    for k in range(a.blocks):
        inn.append(Fm.GLOWCouplingBlock, cond=0, cond_shape=(summary.out_dim,), subnet_constructor=sub, clamp=2.0)
        inn.append(Fm.PermuteRandom, seed=k)
    flow_params = [q for q in inn.parameters() if q.requires_grad]
    for q in flow_params:
        q.data = 0.05 * torch.randn_like(q)
    params = list(summary.parameters()) + flow_params
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.8, 0.9), eps=1e-6, weight_decay=2e-5)

    def step():
        idx = torch.randint(0, n_rows, (a.batch,))
        x, y = x_all[idx], y_all[idx]
        z, logdet = inn(x, c=[summary(y)])
        loss = (0.5 * (z ** 2).sum(1) - logdet).mean()
        opt.zero_grad(); loss.backward()
        for q in params: q.grad.data.clamp_(-15.0, 15.0)
        opt.step()
        return loss.item()
    what = f"bins={a.bins} blocks={a.blocks} hidden={hidden}"
else:
    hidden = a.hidden or 128
    x_all = bounded_modes(n_rows)
    gen = torch.Generator().manual_seed(0)
    flow = nn.ModuleList(SplineCoupling(hidden, a.spline_bins, torch.randperm(2, generator=gen)) for _ in range(a.blocks))
    opt = torch.optim.Adam(flow.parameters(), lr=1e-3)

    def step():
        z = x_all[torch.randint(0, n_rows, (a.batch,))]
        logdet = torch.zeros(a.batch)
        for block in flow:
            z, ld = block(z)
            logdet = logdet + ld
        loss = (0.5 * (z ** 2).sum(1) - logdet).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        return loss.item()
    what = f"spline_bins={a.spline_bins} blocks={a.blocks} hidden={hidden}"

for _ in range(10):
    loss = step()
t = time.perf_counter(); n = 0
while time.perf_counter() - t < a.seconds:
    loss = step(); n += 1
el = time.perf_counter() - t
print(f"peer-summary-spline {a.model} {what} batch={a.batch} float32 loss={loss:.3f}: {n/el:.1f} steps/s ({1e3*el/n:.2f} ms/step)", flush=True)
