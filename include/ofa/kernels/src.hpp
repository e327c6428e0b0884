#pragma once
/// @file
/// The kernels compiled once: include this in exactly one source file of a program
/// built with OFA_SEPARATE_KERNELS (the CMake target ofa::kernels is that file).
/// See ofa/config.hpp.

#if !defined(OFA_SEPARATE_KERNELS)
#error "ofa/kernels/src.hpp: define OFA_SEPARATE_KERNELS for the whole program (or link ofa::kernels in CMake)"
#endif
#define OFA_KERNELS_SOURCE 1

#include "ofa/kernels/activation.hpp"
#include "ofa/kernels/batch_norm.hpp"
#include "ofa/kernels/batch_norm_depthwise.hpp"
#include "ofa/kernels/conv2d.hpp"
#include "ofa/kernels/depthwise.hpp"
#include "ofa/kernels/gemm.hpp"
#include "ofa/kernels/simd.hpp"
