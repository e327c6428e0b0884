#pragma once
/// @file
/// The umbrella header: everything ofa offers. Internal headers never include it.

#include "ofa/errors.hpp"
#include "ofa/random.hpp"
#include "ofa/version.hpp"

#include "ofa/space/activation.hpp"
#include "ofa/space/arch_encoding.hpp"
#include "ofa/space/choices.hpp"
#include "ofa/space/config_json.hpp"
#include "ofa/space/make_divisible.hpp"
#include "ofa/space/network.hpp"
#include "ofa/space/parts.hpp"
#include "ofa/space/profile.hpp"
#include "ofa/space/sampling.hpp"
#include "ofa/space/subnet_config.hpp"
#include "ofa/spaces/cifar.hpp"
#include "ofa/spaces/mobilenet_v3.hpp"
