"""The data-loading peer of `npm run bench:data`: torchvision's ImageFolder + DataLoader with PIL and
the same augmentation as odc's (RandomResizedCrop 224, flip, rotation 2 degrees, ColorJitter
0.4/0.4/1.0/0.5, RandomGrayscale 0.2, ToTensor, Normalize), one JSON line per worker count.
Usage: /usr/bin/python3 bench/peer_data.py FOLDER IMAGES WORKERS[,WORKERS...]"""
import json
import sys
import time

import torch
from torchvision import datasets, transforms

folder, images, worker_list = sys.argv[1], int(sys.argv[2]), [int(w) for w in sys.argv[3].split(',')]
torch.set_num_threads(1)
tf = transforms.Compose([
    transforms.RandomResizedCrop(224, scale=(0.08, 1.0)),
    transforms.RandomHorizontalFlip(),
    transforms.RandomRotation(2),
    transforms.ColorJitter(0.4, 0.4, 1.0, 0.5),
    transforms.RandomGrayscale(0.2),
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])
ds = torch.utils.data.Subset(datasets.ImageFolder(folder, tf), range(images))
for workers in worker_list:
    loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True, num_workers=workers, drop_last=True)
    it = iter(loader)
    next(it)  # workers started, first batch made: timed from here
    t0 = time.perf_counter()
    n = 0
    for x, _ in it:
        n += x.shape[0]
    s = time.perf_counter() - t0
    print(json.dumps({'peer': 'torchvision', 'workers': workers, 'images': n, 'img_per_s': n / s}), flush=True)
