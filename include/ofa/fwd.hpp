#pragma once
/// @file
/// Declarations only: lets headers name ofa types without including their
/// definitions (breaks include cycles). Includes nothing on purpose.

namespace ofa {

class error;
class config_error;
class io_error;
class data_error;
class shape_error;
class logic_error;

class rng;

namespace space {
template <int... Values>
struct depth;
template <int... Values>
struct expand;
template <int... Values>
struct kernel;
template <int... Values>
struct resolutions;
template <int First, int Last, int Step>
struct resolution_range;
template <int Width, int Stride, class Activation>
struct stem;
template <int Width, class Activation>
struct first_block;
template <int Width, int Stride, class Activation, class SqueezeExcite, class Depth, class Expand, class Kernel>
struct unit;
template <class... Units>
struct units;
template <int FinalExpand, int FeatureMix>
struct head;
template <int Count>
struct classes;
template <class Resolutions, class Stem, class FirstBlock, class Units, class Head, class Classes>
struct network;
}  // namespace space

template <class Space>
struct subnet_config;

}  // namespace ofa
