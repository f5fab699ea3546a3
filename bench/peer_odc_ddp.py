#!/usr/bin/env python3
"""The PyTorch peer of `npm run bench:dist`: one ODC training epoch of ../shared/peer/odc_ref.py
(its model, augmentation, memory and hooks, imported from it), run data-parallel the way the
released code runs: torch.distributed on Gloo, the model in DistributedDataParallel (gradients
averaged in buckets during backward, BatchNorm per process), each rank a slice of the global
batch, the batch's indices and features all-gathered into every rank's samples memory.

Launched with torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), or alone as one
process. Rank 0 writes {"iters", "loop_s", "img_per_s"} to --json-out.

Run with Debian's python: /usr/bin/python3 peer_odc_ddp.py --peer-dir ../shared/peer ...
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--peer-dir', required=True, help='the folder of odc_ref.py')
    p.add_argument('--limit', type=int, default=2000)
    p.add_argument('--width', type=int, default=16)
    p.add_argument('--batch-size', type=int, default=64, help='the global batch')
    p.add_argument('--num-classes', type=int, default=20)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json-out', default='')
    return p.parse_args()


class Train(nn.Module):
    """The training forward pass as one module, so that DDP sees every parameter it averages."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        feat = self.net.neck(self.net.forward_backbone(x))
        return feat, self.net.head(feat)


def main():
    a = parse()
    sys.path.insert(0, a.peer_dir)
    import odc_ref as ref  # noqa: E402  (the shared peer: model, augmentation, memory, k-means)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    if world > 1:
        dist.init_process_group('gloo', init_method='env://', rank=rank, world_size=world)
    xtr, _ = ref.load_fmnist(ref.FMNIST_DIR, 'train')
    xtr = xtr[:a.limit].contiguous()
    n, k, b = xtr.shape[0], a.num_classes, a.batch_size
    assert b % world == 0, 'the global batch must split evenly'
    net = ref.Net('odc', 'resnet18', a.width, k, False)
    # Initial clustering, the same on every rank (seeded): not timed.
    feats = ref.extract(net, xtr, 28, 256, torch.device('cpu'), 'neck')
    labels, _ = ref.faiss_like_kmeans(ref.pca_whiten_l2(feats, -1), k, niter=20, seed=a.seed)
    net.head.init_weights()
    mem = ref.ODCMemory(n, feats.shape[1], 0.5, k, 20, seed=a.seed)
    mem.init_memory(feats, labels)
    weight = ref.reweight(labels, k, 0.5, eps=1e-5)
    model = Train(net)
    ddp = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    head = {id(p) for p in net.head.parameters()}
    opt = torch.optim.SGD([{'params': [p for p in net.parameters() if id(p) not in head]},
                           {'params': list(net.head.parameters()), 'momentum': 0.0}], lr=0.06, momentum=0.9, weight_decay=1e-5)
    aug = ref.TrainAug(28, np.random.default_rng(a.seed + 1 + rank), scale=(0.08, 1.0))
    order = torch.randint(0, n, (n,), generator=torch.Generator().manual_seed(a.seed))
    per = b // world
    net.train()
    iters = 0
    t0 = time.time()
    for s in range(0, n - b + 1, b):
        idx = order[s:s + b][rank * per:(rank + 1) * per]
        x = aug(xtr[idx])
        feat, logits = ddp(x)
        target = mem.label_bank[idx]
        loss = F.cross_entropy(logits, target, weight=weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        feat = feat.detach()
        if world > 1:
            all_idx = [torch.empty_like(idx) for _ in range(world)]
            all_feat = [torch.empty_like(feat) for _ in range(world)]
            dist.all_gather(all_idx, idx)
            dist.all_gather(all_feat, feat)
            idx, feat = torch.cat(all_idx), torch.cat(all_feat)
        mem.update_samples_memory(idx, feat)
        iters += 1
        if iters % 10 == 0:
            mem.update_centroids_memory()
        mem.deal_with_small_clusters()
        weight = ref.reweight(mem.label_bank, k, 0.5, eps=1e-5)
    loop = time.time() - t0
    if rank == 0 and a.json_out:
        with open(a.json_out, 'w') as f:
            json.dump({'world': world, 'threads': a.threads, 'iters': iters, 'loop_s': loop, 'img_per_s': iters * b / loop}, f)
    if world > 1:
        dist.destroy_process_group()


if __name__ == '__main__':
    main()
