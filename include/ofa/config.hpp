#pragma once
/// @file
/// How the kernels are compiled. Header-only by default: every translation unit
/// compiles the SIMD kernels it calls. With OFA_SEPARATE_KERNELS defined (link
/// ofa::kernels in CMake, which defines it), the kernels' entry points are only
/// declared here and compiled once, into that library — as fmt's FMT_HEADER_ONLY
/// and Boost.Asio's separate compilation offer. Without CMake: define
/// OFA_SEPARATE_KERNELS everywhere and compile one source file that includes
/// <ofa/kernels/src.hpp>.

#if defined(OFA_SEPARATE_KERNELS)
#define OFA_KERNEL_API
#if defined(OFA_KERNELS_SOURCE)
#define OFA_KERNELS_DEFINE 1
#else
#define OFA_KERNELS_DEFINE 0
#endif
#else
#define OFA_KERNEL_API inline
#define OFA_KERNELS_DEFINE 1
#endif
