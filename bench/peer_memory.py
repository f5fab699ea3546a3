#!/usr/bin/env python3
"""The released ODC memory algorithm (OpenSelfSup odc_memory.py, single process) in PyTorch, timed
per iteration: momentum update + re-assignment by dot product, a full label histogram for the
re-weighting and the small-cluster check every iteration, a full centroid recompute every 10."""
import argparse, json, time
import torch

p = argparse.ArgumentParser()
p.add_argument('--n', type=int, default=1281167)
p.add_argument('--k', type=int, default=10000)
p.add_argument('--batch', type=int, default=512)
p.add_argument('--iters', type=int, default=50)
p.add_argument('--threads', type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
g = torch.Generator().manual_seed(0)
D = 256
feat = torch.randn(a.n, D, generator=g).abs()
feat /= feat.norm(dim=1, keepdim=True) + 1e-10
label = torch.randint(0, a.k, (a.n,), generator=g)
cent = torch.zeros(a.k, D).index_add_(0, label, feat) / torch.bincount(label, minlength=a.k).clamp_min(1).unsqueeze(1).float()


def step(it):
    global cent
    ind = torch.randint(0, a.n, (a.batch,), generator=g)
    f = torch.randn(a.batch, D, generator=g).abs()
    f = f / (f.norm(dim=1, keepdim=True) + 1e-10)
    new = 0.5 * feat[ind] + 0.5 * f
    new = new / (new.norm(dim=1, keepdim=True) + 1e-10)
    feat[ind] = new
    newlabel = (cent @ new.t()).argmax(dim=0)
    (newlabel != label[ind]).float().mean().item()
    label[ind] = newlabel
    if it % 10 == 0:  # update_centroids_memory(): full recompute over N
        counts = torch.bincount(label, minlength=a.k)
        sums = torch.zeros(a.k, D).index_add_(0, label, feat)
        nz = counts > 0
        cent[nz] = sums[nz] / counts[nz].unsqueeze(1).float()
    hist = torch.bincount(label, minlength=a.k)  # deal_with_small_clusters + set_reweight
    (hist < 20).nonzero()
    inv = (1.0 / (hist.float() + 1e-5)) ** 0.5
    inv / inv.sum()


for i in range(1, 6):
    step(i)
t0 = time.perf_counter()
for i in range(1, a.iters + 1):
    step(i)
ms = (time.perf_counter() - t0) * 1000 / a.iters
print(json.dumps({'peer': 'pytorch-released-memory', 'ms_per_iter': round(ms, 2), 'n': a.n, 'k': a.k, 'batch': a.batch}))
