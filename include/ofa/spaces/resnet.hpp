#pragma once
/// @file
/// The OFA ResNet space of the reference implementation (OFAResNets) as its published supernet
/// `ofa_resnet50` is configured: elastic depth (0, 1 or 2 blocks above each stage's base depth, and
/// the deep stem's middle layer), bottleneck expand ratios 0.2, 0.25, 0.35 and width multipliers
/// 0.65, 0.8, 1.0 for the stem and every stage.

#include "ofa/space/activation.hpp"
#include "ofa/space/choices.hpp"
#include "ofa/space/network.hpp"
#include "ofa/space/parts.hpp"

namespace ofa::spaces {

namespace detail {
/// A stage of the OFA ResNet: Base to Base + 2 bottlenecks of width Width × {0.65, 0.8, 1.0}.
template <int Width, int Stride, int Base>
using resnet_stage =
    space::bottleneck_unit<Width, Stride, space::depth<Base, Base + 1, Base + 2>, space::bottleneck_expand<20, 25, 35>,
                           space::width_multipliers<65, 80, 100>>;
}  // namespace detail

/** @brief OFA ResNet50 (`ofa_resnet50`): a deep stem of 64 × {0.65, 0.8, 1.0} channels, four stages of
 *  bottlenecks (base depths 2, 2, 4, 2; widths 256, 512, 1024, 2048 times the multiplier; strides
 *  1, 2, 2, 2), global pooling and the classifier; resolutions 128..224 step 4. The largest subnet
 *  has 48.1 M parameters and 7.49 G MACs at 224; the smallest 6.5 M and 0.32 G at 128. */
using resnet50 = space::network<space::resolution_range<128, 224, 4>,
                                space::deep_stem<64, space::width_multipliers<65, 80, 100>>, space::no_first_block,
                                space::units<detail::resnet_stage<256, 1, 2>, detail::resnet_stage<512, 2, 2>,
                                             detail::resnet_stage<1024, 2, 4>, detail::resnet_stage<2048, 2, 2>>,
                                space::pool_head, space::classes<1000>>;

/** @brief The ResNet recipe at CIFAR scale, beside ofa::spaces::cifar and at about its cost (largest
 *  subnet 89 M MACs at 32 against its 64 M): a deep stem of 32 channels, stride 1, without pooling
 *  (32×32 images afford only 4× down-sampling: 32→16→8 in the stride-2 stages), three stages of 1 to 3
 *  bottlenecks of widths 64, 128, 256 times {0.65, 0.8, 1.0} (strides 1, 2, 2), the reference's
 *  expand ratios; resolutions 24, 28, 32; 10 classes. */
using cifar_resnet = space::network<
    space::resolution_range<24, 32, 4>,
    space::deep_stem<32, space::width_multipliers<65, 80, 100>, space::relu, 1, space::no_pool>, space::no_first_block,
    space::units<detail::resnet_stage<64, 1, 1>, detail::resnet_stage<128, 2, 1>, detail::resnet_stage<256, 2, 1>>,
    space::pool_head, space::classes<10>>;

}  // namespace ofa::spaces
