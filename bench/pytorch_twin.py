#!/usr/bin/python3
"""PyTorch twin of `ofa bench train|infer`: the same subnet written in plain PyTorch
(channels-last, the thread count asked for), timed the same way (warm-up, median).

    /usr/bin/python3 bench/pytorch_twin.py train --space mbv3 --config max --batch 16 --resolution 128 --threads 2

Needs Debian's python3-torch (with libopenblas0-openmp, so torch's BLAS is OpenBLAS).
Prints one JSON line with images_per_s and ms, like `ofa bench --json`.
"""
import argparse, json, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F

SPACES = {  # stem, first block, units (width, stride, act, se), head, classes -- as include/ofa/spaces
    "mbv3": dict(stem=(16, 2), first=16, units=[(24, 2, "relu", False), (40, 2, "relu", True), (80, 2, "hswish", False),
                                                (112, 1, "hswish", True), (160, 2, "hswish", True)],
                 head=(960, 1280), classes=1000),
    "cifar": dict(stem=(16, 1), first=16, units=[(24, 2, "relu", False), (40, 2, "relu", True), (80, 2, "hswish", False),
                                                 (112, 1, "hswish", True), (160, 1, "hswish", True)],
                  head=(640, 1024), classes=10),
}


def make_divisible(v, d=8):
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def act(name):
    return nn.ReLU(inplace=True) if name == "relu" else nn.Hardswish(inplace=True)


class SE(nn.Module):
    def __init__(self, c):
        super().__init__()
        mid = make_divisible(c // 4)
        self.reduce, self.expand = nn.Conv2d(c, mid, 1), nn.Conv2d(mid, c, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * F.hardsigmoid(self.expand(F.relu(self.reduce(s))))


class Block(nn.Module):
    def __init__(self, cin, cout, k, e, stride, a, se):
        super().__init__()
        mid = cin if e == 1 else make_divisible(round(cin * e))
        layers = [] if e == 1 else [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), act(a)]
        layers += [nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid), act(a)]
        if se:
            layers.append(SE(mid))
        layers += [nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body, self.residual = nn.Sequential(*layers), stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


def build(space, cfg):
    s = SPACES[space]
    layers = [nn.Conv2d(3, s["stem"][0], 3, s["stem"][1], 1, bias=False), nn.BatchNorm2d(s["stem"][0]), nn.Hardswish()]
    layers.append(Block(s["stem"][0], s["first"], 3, 1, 1, "relu", False))
    cin = s["first"]
    for u, (w, stride, a, se) in enumerate(s["units"]):
        for i in range(cfg["d"][u]):
            slot = 4 * u + i
            layers.append(Block(cin, w, cfg["ks"][slot], cfg["e"][slot], stride if i == 0 else 1, a, se))
            cin = w
    fe, fm = s["head"]
    layers += [nn.Conv2d(cin, fe, 1, bias=False), nn.BatchNorm2d(fe), nn.Hardswish(), nn.AdaptiveAvgPool2d(1),
               nn.Conv2d(fe, fm, 1, bias=False), nn.Hardswish(), nn.Flatten(), nn.Dropout(0.1), nn.Linear(fm, s["classes"])]
    return nn.Sequential(*layers)


def config(name):
    if name.endswith(".json"):
        return json.load(open(name))
    value = {"max": (4, 6, 7), "min": (2, 3, 3), "mid": (3, 4, 5)}[name]
    return {"d": [value[0]] * 5, "e": [value[1]] * 20, "ks": [value[2]] * 20}


def median_seconds(step, warmup, repetitions):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["train", "infer"])
    p.add_argument("--space", default="mbv3", choices=list(SPACES))
    p.add_argument("--config", default="max")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--resolution", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repetitions", type=int, default=7)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = build(a.space, config(a.config)).to(memory_format=torch.channels_last)
    x = torch.randn(a.batch, 3, a.resolution, a.resolution).to(memory_format=torch.channels_last)
    if a.mode == "train":
        y = torch.randint(0, SPACES[a.space]["classes"], (a.batch,))
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        net.train()

        def step():
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
    else:
        net.eval()

        def step():
            with torch.no_grad():
                net(x)
    seconds = median_seconds(step, 2, a.repetitions)
    print(json.dumps({"framework": "pytorch " + torch.__version__, "mode": a.mode, "space": a.space, "config": a.config,
                      "batch": a.batch, "resolution": a.resolution, "threads": a.threads,
                      "images_per_s": a.batch / seconds, "ms": seconds * 1e3}))


if __name__ == "__main__":
    main()
