# Finds ofa's dependencies. Debian 12 packages are the supported path
# (scripts/setup.sh installs them); a system that lacks one gets a pinned
# FetchContent download instead, so `cmake` still configures.
include(FetchContent)

macro(ofa_find_or_fetch package target repository tag)
  find_package(${package} CONFIG QUIET)
  if(NOT TARGET ${target})
    message(STATUS "ofa: ${package} not found on the system; fetching ${repository} @ ${tag}")
    FetchContent_Declare(${package} GIT_REPOSITORY ${repository} GIT_TAG ${tag} GIT_SHALLOW TRUE)
    FetchContent_MakeAvailable(${package})
  endif()
endmacro()

ofa_find_or_fetch(xtl xtl https://github.com/xtensor-stack/xtl.git 0.7.5)
ofa_find_or_fetch(xsimd xsimd https://github.com/xtensor-stack/xsimd.git 8.1.0)
ofa_find_or_fetch(xtensor xtensor https://github.com/xtensor-stack/xtensor.git 0.24.3)
ofa_find_or_fetch(nlohmann_json nlohmann_json::nlohmann_json https://github.com/nlohmann/json.git v3.11.2)
find_package(TBB CONFIG QUIET)
if(NOT TARGET TBB::tbb)
  message(STATUS "ofa: oneTBB not found on the system; fetching oneTBB v2021.8.0")
  set(TBB_TEST OFF CACHE BOOL "" FORCE)
  FetchContent_Declare(TBB GIT_REPOSITORY https://github.com/oneapi-src/oneTBB.git GIT_TAG v2021.8.0 GIT_SHALLOW TRUE)
  FetchContent_MakeAvailable(TBB)
endif()
if(NOT TARGET nlohmann_json::nlohmann_json AND TARGET nlohmann_json)
  add_library(nlohmann_json::nlohmann_json ALIAS nlohmann_json)
endif()
