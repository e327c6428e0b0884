#!/usr/bin/python3
"""Writes tests/io/pytorch/predictor_resnet.pth and predictor_resnet_expected.json with Debian's python3-torch.

The layout of the reference's published ResNet50 accuracy predictor (the `nas` module: layers.<i>.0.weight/bias,
layers.<L>.weight, base_acc) over its ResNet encoding of 82 inputs: the resolution one-hot of its eight image sizes
(128, 144, 160, 176, 192, 224, 240, 256), whether the deep stem runs whole (2), a one-hot of each of the six width
multiplier indices (stem middle, stem, four stages; 3 each), then an expand-ratio one-hot (0.2, 0.25, 0.35) per
block slot (18), slots cut by depth left at zero. Random weights; the predictions this formula gives for random
subnets are written beside them. Nothing here is the reference's code.

Usage: /usr/bin/python3 tests/io/make_resnet_predictor_fixture.py tests/io/pytorch
"""
import collections
import json
import os
import sys

import torch

SIZES = [128, 144, 160, 176, 192, 224, 240, 256]
EXPANDS = [0.2, 0.25, 0.35]
BASE_DEPTHS = [2, 2, 4, 2]
SLOTS_PER_STAGE = [b + 2 for b in BASE_DEPTHS]


def encoding(arch):
    r = [0.0] * len(SIZES)
    r[SIZES.index(arch["r"])] = 1.0
    stem = [0.0, 0.0]
    stem[1 if arch["d"][0] > 0 else 0] = 1.0
    widths = []
    for w in arch["w"]:
        hot = [0.0] * 3
        hot[w] = 1.0
        widths += hot
    ratios, slot = [], 0
    for stage, slots in enumerate(SLOTS_PER_STAGE):
        for i in range(slots):
            hot = [0.0] * 3
            if i < BASE_DEPTHS[stage] + arch["d"][stage + 1]:
                hot[EXPANDS.index(arch["e"][slot])] = 1.0
            ratios += hot
            slot += 1
    return r + stem + widths + ratios


def random_arch(g, sizes):
    pick = lambda n: int(torch.randint(0, n, (1,), generator=g))
    return {"d": [[0, 2][pick(2)]] + [pick(3) for _ in range(4)],
            "e": [EXPANDS[pick(3)] for _ in range(sum(SLOTS_PER_STAGE))],
            "w": [pick(3) for _ in range(6)],
            "r": sizes[pick(len(sizes))]}


def main(folder, hidden=16):
    g = torch.Generator().manual_seed(11)
    nas = collections.OrderedDict()
    sizes = [len(encoding(random_arch(g, SIZES)))] + [hidden] * 3
    assert sizes[0] == 82
    for i in range(3):
        nas["layers.%d.0.weight" % i] = torch.randn(hidden, sizes[i], generator=g) * 0.2
        nas["layers.%d.0.bias" % i] = torch.randn(hidden, generator=g) * 0.1
    nas["layers.3.weight"] = torch.randn(1, hidden, generator=g) * 0.01
    nas["base_acc"] = torch.tensor([0.7712])

    def forward(x):
        for i in range(3):
            x = torch.relu(x @ nas["layers.%d.0.weight" % i].t() + nas["layers.%d.0.bias" % i])
        return (x @ nas["layers.3.weight"].t() + nas["base_acc"]).item()

    shared = [s for s in SIZES if s <= 224]  # the image sizes ofa's resnet50 space has too
    expected = []
    with torch.no_grad():
        for _ in range(20):
            arch = random_arch(g, shared)
            expected.append({"config": arch, "nas": forward(torch.tensor(encoding(arch)))})
    torch.save(nas, os.path.join(folder, "predictor_resnet.pth"))
    with open(os.path.join(folder, "predictor_resnet_expected.json"), "w") as f:
        json.dump(expected, f, indent=0)


if __name__ == "__main__":
    main(sys.argv[1])
