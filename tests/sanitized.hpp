#pragma once
// True in sanitizer builds, where the slowest end-to-end tests run fewer
// iterations (the Release run covers the full counts; the sanitizers look for
// memory and UB errors, which the smaller runs exercise on the same code paths).
namespace test {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif
}  // namespace test
