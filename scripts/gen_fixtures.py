#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures the engine's parity tests read (test/fixtures/*.safetensors).

Run with Debian's PyTorch (apt-get install -y python3-torch python3-torchvision):
    /usr/bin/python3 scripts/gen_fixtures.py
Each file holds the model's state dict under `model.*`, an input, and what PyTorch computed from it:
train-mode logits/loss/gradients, BatchNorm running statistics after that forward, eval-mode logits,
feature taps, and the parameters after two SGD steps. Tests need only the committed files, not Python.
"""
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, Bottleneck

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}


def save_safetensors(path, tensors, metadata=None):
    """The safetensors format, written by hand (Debian has no python3-safetensors)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - (8 + len(raw)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


class ResNet(nn.Module):
    """torchvision's ResNet with a width parameter and a CIFAR stem option (same module names)."""

    def __init__(self, block, layers, width=64, stem="imagenet", in_channels=3, num_classes=10):
        super().__init__()
        self.inplanes = width
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else nn.Identity()
        self.layer1 = self._make_layer(block, width, layers[0], 1)
        self.layer2 = self._make_layer(block, width * 2, layers[1], 2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], 2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], 2)
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride):
        down = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            down = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False), nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, down)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def taps(self, x):
        out = {}
        x = self.relu(self.bn1(self.conv1(x)))
        out["conv1"] = x
        x = self.maxpool(x)
        for name, layer in zip(["conv2", "conv3", "conv4", "conv5"], [self.layer1, self.layer2, self.layer3, self.layer4]):
            x = layer(x)
            out[name] = x
        out["pool"] = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return out

    def forward(self, x):
        return self.fc(self.taps(x)["pool"])


class AlexNet(nn.Module):
    """DeepCluster's AlexNet with BN ('cifar' stem: 3x3/1 convs, 2x2 pools, 3x3 adaptive grid)."""

    def __init__(self, factor, hidden, num_classes, in_channels=3):
        super().__init__()
        cfg = [(96, 3, 1, 1), (256, 3, 1, 1), (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1)]
        layers, c = [], in_channels
        for i, (o, k, s, p) in enumerate(cfg):
            o = max(1, round(o * factor))
            layers += [nn.Conv2d(c, o, k, s, p), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
            if i in (0, 1, 4):
                layers.append(nn.MaxPool2d(2, 2))
            c = o
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(3)
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(c * 9, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(hidden, hidden), nn.ReLU(inplace=True))
        self.top_layer = nn.Linear(hidden, num_classes)

    def forward(self, x):
        return self.top_layer(self.classifier(torch.flatten(self.avgpool(self.features(x)), 1)))


def perturb(model, gen):
    """Non-trivial BN affine parameters and running statistics, so eval mode is really tested."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)
                m.running_mean.uniform_(-0.1, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)


def make(name, model, x, y, grad_keys, dropout_seed=None):
    gen = torch.Generator().manual_seed(7)
    perturb(model, gen)
    out = {f"model.{k}": v.clone() for k, v in model.state_dict().items()}
    out["input"] = x
    out["target"] = y
    classes = model.fc.out_features if hasattr(model, "fc") else model.top_layer.out_features
    weight = torch.rand(classes, generator=gen) + 0.5
    out["class_weight"] = weight

    model.eval()
    with torch.no_grad():
        out["eval.logits"] = model(x)
        if hasattr(model, "taps"):
            for k, v in model.taps(x).items():
                out[f"eval.tap.{k}"] = v

    model.train()
    if dropout_seed is not None:
        torch.manual_seed(dropout_seed)
    logits = model(x)
    loss = F.cross_entropy(logits, y, weight=weight)
    loss.backward()
    out["train.logits"] = logits.detach()
    out["train.loss"] = loss.detach().reshape(1)
    params = dict(model.named_parameters())
    for k in grad_keys:
        out[f"grad.{k}"] = params[k].grad.clone()
    for k, v in model.state_dict().items():
        if "running_" in k or "num_batches" in k:
            out[f"after.{k}"] = v.clone()

    # Two SGD steps (momentum, weight decay, Nesterov): the second from a second forward's gradients.
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True)
    opt.step()
    opt.zero_grad(set_to_none=True)
    if dropout_seed is not None:
        torch.manual_seed(dropout_seed + 1)
    F.cross_entropy(model(x), y, weight=weight).backward()
    for k in grad_keys:
        out[f"grad2.{k}"] = params[k].grad.clone()
    opt.step()
    for k in grad_keys:
        out[f"sgd.{k}"] = params[k].detach().clone()

    path = os.path.join(OUT, f"{name}.safetensors")
    save_safetensors(path, out, {"torch": torch.__version__, "generator": "scripts/gen_fixtures.py"})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(0)

    r18 = ResNet(BasicBlock, [2, 2, 2, 2], width=8, stem="cifar", in_channels=3, num_classes=10)
    x = torch.randn(4, 3, 32, 32)
    y = torch.tensor([1, 0, 7, 3])
    make("resnet18_cifar_w8", r18, x, y, ["conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.bn2.weight", "fc.weight", "fc.bias"])

    r50 = ResNet(Bottleneck, [3, 4, 6, 3], width=4, stem="imagenet", in_channels=1, num_classes=5)
    x = torch.randn(4, 1, 96, 96)
    y = torch.tensor([4, 2, 0, 1])
    make("resnet50_imagenet_w4", r50, x, y, ["conv1.weight", "layer3.5.conv2.weight", "fc.weight"])

    alex = AlexNet(factor=1 / 8, hidden=64, num_classes=10)
    x = torch.randn(4, 3, 32, 32)
    y = torch.tensor([9, 2, 2, 5])
    make("alexnet_bn_cifar", alex, x, y, ["features.0.weight", "features.15.weight", "classifier.1.weight", "top_layer.weight"], dropout_seed=123)


if __name__ == "__main__":
    main()
