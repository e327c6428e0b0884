#pragma once
/// @file
/// Every block kind's ONNX emitter (exporters::emit_onnx): one include per kind's folder.

#include "ofa/blocks/bottleneck/onnx.hpp"
#include "ofa/blocks/mbconv/onnx.hpp"
