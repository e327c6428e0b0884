#pragma once
/// @file
/// The umbrella header: everything ofa offers. Internal headers never include it;
/// include the area headers you use for faster builds.

#include "ofa/errors.hpp"
#include "ofa/profiling.hpp"
#include "ofa/random.hpp"
#include "ofa/version.hpp"

// the architecture space
#include "ofa/space/activation.hpp"
#include "ofa/space/arch_encoding.hpp"
#include "ofa/space/choices.hpp"
#include "ofa/space/config_json.hpp"
#include "ofa/space/make_divisible.hpp"
#include "ofa/space/network.hpp"
#include "ofa/space/parts.hpp"
#include "ofa/space/plan.hpp"
#include "ofa/space/profile.hpp"
#include "ofa/space/sampling.hpp"
#include "ofa/space/subnet_config.hpp"
#include "ofa/spaces/cifar.hpp"
#include "ofa/spaces/mobilenet_v3.hpp"
#include "ofa/spaces/proxyless.hpp"
#include "ofa/spaces/resnet.hpp"

// tensors, kernels, autograd
#include "ofa/autograd/batch_norm_depthwise.hpp"
#include "ofa/autograd/gradcheck.hpp"
#include "ofa/autograd/kernel_transform.hpp"
#include "ofa/autograd/ops.hpp"
#include "ofa/kernels/gemm.hpp"
#include "ofa/parallel/arena.hpp"
#include "ofa/parallel/loops.hpp"
#include "ofa/tensor/tensor.hpp"

// the supernet and its subnets
#include "ofa/io/checkpoint.hpp"
#include "ofa/nn/bn_statistics.hpp"
#include "ofa/nn/elastic_net.hpp"
#include "ofa/nn/extract.hpp"
#include "ofa/nn/serialize.hpp"
#include "ofa/nn/static_net.hpp"
#include "ofa/train/gradient_reduction.hpp"
#include "ofa/train/optimizer.hpp"

// the search and export
#include "ofa/exporters/onnx.hpp"
#include "ofa/search/accuracy_dataset.hpp"
#include "ofa/search/accuracy_predictor.hpp"
#include "ofa/search/evolution.hpp"
#include "ofa/search/label_noise.hpp"
#include "ofa/search/latency_table.hpp"
#include "ofa/search/random_baseline.hpp"
#include "ofa/search/rerank.hpp"

// data
#include "ofa/data/loader.hpp"
#include "ofa/data/spec.hpp"
#include "ofa/data/split.hpp"
