"""Peer for `cargo xtask bench` row F.sample: draw n points from the (untrained) FrEIA flow of
freia_mle_bench.py (2-D, K RNVPCouplingBlocks, clamp 2, subnets 1->H->H->1 ReLU, PermuteRandom),
z ~ N(0, I) pushed through the reverse pass under torch.no_grad, PyTorch CPU f32, 2 threads.
Prints one line per timed call: "peer-sampling n=N: T ms/call" (one warm-up call first)."""
import argparse, time
import torch, torch.nn as nn
import FrEIA.framework as Ff, FrEIA.modules as Fm

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=100000)
p.add_argument("--hidden", type=int, default=128)
p.add_argument("--blocks", type=int, default=8)
p.add_argument("--reps", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

def subnet(cin, cout):
    return nn.Sequential(nn.Linear(cin, a.hidden), nn.ReLU(), nn.Linear(a.hidden, a.hidden), nn.ReLU(), nn.Linear(a.hidden, cout))

inn = Ff.SequenceINN(2)
for k in range(a.blocks):
    inn.append(Fm.RNVPCouplingBlock, subnet_constructor=subnet, clamp=2.0)
    inn.append(Fm.PermuteRandom, seed=k)
inn.eval()

def sample():
    with torch.no_grad():
        x, _ = inn(torch.randn(a.n, 2), rev=True)
    return x

sample()
for _ in range(a.reps):
    t = time.perf_counter()
    sample()
    print(f"peer-sampling n={a.n}: {1e3 * (time.perf_counter() - t):.2f} ms/call", flush=True)
