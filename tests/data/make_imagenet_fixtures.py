#!/usr/bin/python3
"""Writes the fixtures of tests/data/test_imagenet_preprocessing.cpp with Debian's python3-torchvision.

JPEGs of several sizes and aspect ratios, mosaics of real CIFAR-10 test photographs (../shared/data), and
what torchvision's evaluation transform of the reference makes of each -- Resize(ceil(r / 0.875)) with
PIL's bilinear filter, CenterCrop(r) -- as raw 8-bit RGB (before ToTensor and Normalize).

Usage: /usr/bin/python3 tests/data/make_imagenet_fixtures.py ../shared/data/cifar10-jpeg tests/data/imagenet
"""
import glob
import math
import os
import sys

import numpy
from PIL import Image
from torchvision import transforms

SIZES = [(384, 288, 128), (288, 384, 128), (320, 320, 128), (512, 192, 128), (96, 64, 128), (384, 288, 224),
         (301, 227, 160)]


def mosaic(photos, width, height, offset):
    out = Image.new("RGB", (width, height))
    tiles = [(x, y) for y in range(0, height, 32) for x in range(0, width, 32)]
    for i, (x, y) in enumerate(tiles):
        out.paste(Image.open(photos[(offset + i) % len(photos)]).convert("RGB"), (x, y))
    return out


def main():
    source, folder = sys.argv[1], sys.argv[2]
    photos = sorted(glob.glob(os.path.join(source, "test", "*", "*.jpg")))[::7]
    assert photos, "no CIFAR-10 JPEGs under " + source
    for i, (w, h, r) in enumerate(SIZES):
        name = os.path.join(folder, "photo_%dx%d" % (w, h))
        if not os.path.exists(name + ".jpg"):
            mosaic(photos, w, h, 40 * i).save(name + ".jpg", quality=90)
        image = Image.open(name + ".jpg").convert("RGB")
        evaluate = transforms.Compose([transforms.Resize(int(math.ceil(r / 0.875))), transforms.CenterCrop(r)])
        pixels = numpy.asarray(evaluate(image), dtype=numpy.uint8)
        assert pixels.shape == (r, r, 3)
        pixels.tofile("%s_r%d.rgb" % (name, r))


if __name__ == "__main__":
    main()
