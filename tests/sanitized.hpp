#pragma once
// True in sanitizer builds, where the slowest end-to-end tests run fewer
// iterations (the Release run covers the full counts; the sanitizers look for
// memory, UB and thread errors, which the smaller runs exercise on the same code paths).
namespace test {
// GCC defines __SANITIZE_ADDRESS__ / __SANITIZE_THREAD__; clang answers __has_feature.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__) || defined(__SANITIZE_THREAD__)
inline constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif
#else
inline constexpr bool sanitized = false;
#endif
}  // namespace test
