#!/usr/bin/python3
"""Writes the PyTorch fixtures of tests/io/test_pytorch.cpp with Debian's python3-torch.

Input: an ofa supernet checkpoint (tests/io/pytorch/small.ofa, the test space's network of seed 7,
written by `test_io "[write-small-supernet]"`). Output, beside it: the same weights as the published
Once-for-All files hold them -- PyTorch layouts (OIHW, depthwise [C,1,K,K], 1x1 convolutions 4-d), the
published key names (`mobile_inverted_conv`, `bn.bn`, `conv.conv`), `num_batches_tracked`, under a
{"state_dict": ...} wrapper -- in both torch.save formats, one with float16 storages, one with views
(a storage offset, transposed strides), and small malformed files. Nothing here is the reference's code.

Usage: /usr/bin/python3 tests/io/make_pytorch_fixtures.py tests/io/pytorch/small.ofa
"""
import collections
import os
import struct
import sys

import torch


def read_ofa(path):
    """The tensors of an ofa checkpoint (include/ofa/io/checkpoint.hpp's format), by name."""
    data = open(path, "rb").read()
    assert data[:8] == b"OFACKPT\0", "not an ofa checkpoint"
    at = 16

    def string():
        nonlocal at
        (n,) = struct.unpack_from("<Q", data, at)
        at += 8 + n
        return data[at - n:at].decode()

    string(), string()  # signature, metadata
    (count,) = struct.unpack_from("<Q", data, at)
    at += 8
    tensors = collections.OrderedDict()
    for _ in range(count):
        name = string()
        (rank,) = struct.unpack_from("<I", data, at)
        shape = struct.unpack_from("<%dQ" % rank, data, at + 4)
        at += 4 + 8 * rank
        n = 1
        for d in shape:
            n *= d
        values = torch.tensor(struct.unpack_from("<%df" % n, data, at), dtype=torch.float32)
        at += 4 * n
        tensors[name] = values.reshape(shape)
    return tensors


def published_name(name):
    """ofa's name (the reference model's) as the published files spell it."""
    if name.startswith("blocks."):
        index = int(name.split(".")[1])
        name = name.replace(".conv.", ".mobile_inverted_conv.", 1)
        if index > 0:  # the elastic blocks: their convolutions and BNs are wrapped once more
            for layer in (".depth_conv.", ".inverted_bottleneck.", ".point_linear."):
                name = name.replace(layer + "conv.weight", layer + "conv.conv.weight")
                name = name.replace(layer + "bn.", layer + "bn.bn.")
    return name


def torch_layout(name, t):
    if t.dim() == 4:  # a dense convolution: ofa [O, kh, kw, I], PyTorch [O, I, kh, kw]
        return t.permute(0, 3, 1, 2).contiguous()
    if t.dim() == 3:  # depthwise: ofa [K, K, C], PyTorch [C, 1, K, K]
        return t.permute(2, 0, 1).unsqueeze(1).contiguous()
    if t.dim() == 2 and not name.endswith("_matrix") and not name.startswith("classifier."):
        return t.reshape(t.shape[0], t.shape[1], 1, 1)  # a 1x1 convolution
    return t


def state_dict(tensors, views=False, half=False):
    out = collections.OrderedDict()
    for name, t in tensors.items():
        t = torch_layout(name, t)
        if half:
            t = t.half()
        if views and name == "classifier.linear.weight":  # a view that starts inside its storage
            big = torch.zeros(t.shape[0] + 3, t.shape[1], dtype=t.dtype)
            big[3:] = t
            t = big[3:]
        if views and name == "feature_mix_layer.conv.weight":  # a transposed view: strides (1, O)
            t = t.reshape(t.shape[0], t.shape[1]).t().contiguous().t().reshape(t.shape)
        out[published_name(name)] = t
        if name.endswith(".bn.running_var"):
            out[published_name(name).replace("running_var", "num_batches_tracked")] = torch.tensor(0)
    return out


class Foreign:
    def __reduce__(self):
        return (os.system, ("echo a pickle ran code",))


def main():
    source = sys.argv[1]
    folder = os.path.dirname(source)
    tensors = read_ofa(source)
    wrap = lambda sd: {"state_dict": sd}
    torch.save(wrap(state_dict(tensors)), os.path.join(folder, "small_zip.pth"))
    torch.save(wrap(state_dict(tensors, views=True)), os.path.join(folder, "small_legacy.pth"),
               _use_new_zipfile_serialization=False)
    torch.save(state_dict(tensors, half=True), os.path.join(folder, "small_half.pth"))
    first = collections.OrderedDict(list(state_dict(tensors).items())[:3])
    wrong = collections.OrderedDict(first)
    wrong["first_conv.conv.weight"] = torch.zeros(4, 3, 3, 3)
    torch.save(wrong, os.path.join(folder, "wrong_shape.pth"))
    torch.save(first, os.path.join(folder, "missing_keys.pth"))
    torch.save({"state_dict": first, "hook": Foreign()}, os.path.join(folder, "foreign_global.pth"))
    write_predictors(folder)


# The reference's two predictor layouts, over MobileNetV3 (5 units of at most 4 blocks, kernels
# 3/5/7, expands 3/4/6), with random weights; the predictions their own formulas give for random
# subnets are written beside them for the test to compare with.
KERNELS, EXPANDS, SLOTS = [3, 5, 7], [3, 4, 6], 20
RESOLUTIONS = list(range(128, 225, 4))


def random_config(g):
    depth = [int(torch.randint(2, 5, (1,), generator=g)) for _ in range(5)]
    ks = [KERNELS[int(torch.randint(0, 3, (1,), generator=g))] for _ in range(SLOTS)]
    e = [EXPANDS[int(torch.randint(0, 3, (1,), generator=g))] for _ in range(SLOTS)]
    r = RESOLUTIONS[int(torch.randint(0, len(RESOLUTIONS), (1,), generator=g))]
    return {"ks": ks, "e": e, "d": depth, "r": [r]}


def block_one_hots(config, values, key):
    out = []
    for unit in range(5):
        for i in range(4):
            hot = [0.0] * 3
            if i < config["d"][unit]:
                hot[values.index(config[key][unit * 4 + i])] = 1.0
            out += hot
    return out


def tutorial_encoding(config):  # kernels, expands, then 8 resolution bins
    r = [0.0] * 8
    r[(config["r"][0] - 112) // 16] = 1.0
    return block_one_hots(config, KERNELS, "ks") + block_one_hots(config, EXPANDS, "e") + r


def nas_encoding(config):  # the resolution one-hot first
    r = [0.0] * len(RESOLUTIONS)
    r[RESOLUTIONS.index(config["r"][0])] = 1.0
    return r + block_one_hots(config, KERNELS, "ks") + block_one_hots(config, EXPANDS, "e")


def write_predictors(folder, hidden=16):
    import json
    g = torch.Generator().manual_seed(5)
    tutorial = torch.nn.Sequential(torch.nn.Linear(128, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                                   torch.nn.ReLU(), torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
                                   torch.nn.Linear(hidden, 1))
    with torch.no_grad():
        tutorial[6].bias.fill_(0.7587)
    nas = collections.OrderedDict()
    sizes = [len(nas_encoding(random_config(g)))] + [hidden] * 3
    for i in range(3):
        nas["layers.%d.0.weight" % i] = torch.randn(hidden, sizes[i], generator=g) * 0.2
        nas["layers.%d.0.bias" % i] = torch.randn(hidden, generator=g) * 0.1
    nas["layers.3.weight"] = torch.randn(1, hidden, generator=g) * 0.01
    nas["base_acc"] = torch.tensor([0.8056])

    def nas_forward(x):
        for i in range(3):
            x = torch.relu(x @ nas["layers.%d.0.weight" % i].t() + nas["layers.%d.0.bias" % i])
        return (x @ nas["layers.3.weight"].t() + nas["base_acc"]).item()

    configs = [random_config(g) for _ in range(20)]
    expected = []
    with torch.no_grad():
        for c in configs:
            expected.append({"config": c, "tutorial": tutorial(torch.tensor(tutorial_encoding(c))).item(),
                             "nas": nas_forward(torch.tensor(nas_encoding(c)))})
    torch.save(tutorial.state_dict(), os.path.join(folder, "predictor_tutorial.pth"),
               _use_new_zipfile_serialization=False)
    torch.save(nas, os.path.join(folder, "predictor_nas.pth"))
    with open(os.path.join(folder, "predictor_expected.json"), "w") as f:
        json.dump(expected, f, indent=0)


if __name__ == "__main__":
    main()
