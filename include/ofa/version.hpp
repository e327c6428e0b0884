#pragma once
/// @file
/// The library version, kept in step with project(VERSION) in CMakeLists.txt.

#define OFA_VERSION_MAJOR 0
#define OFA_VERSION_MINOR 1
#define OFA_VERSION_PATCH 0
#define OFA_VERSION_STRING "0.1.0"
