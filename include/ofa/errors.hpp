#pragma once
/// @file
/// The typed exceptions of ofa. Every failure a user can cause throws one of
/// these, with a message that names the input and says how to fix it.

#include <stdexcept>
#include <string>

namespace ofa {

/** @brief Base of every ofa exception; catch this to catch them all. */
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/** @brief A subnet configuration or a space description is outside what the space allows. */
class config_error : public error {
 public:
  using error::error;
};

/** @brief A file could not be read or written, or its contents are not what ofa wrote. */
class io_error : public error {
 public:
  using error::error;
};

/** @brief A data set, an image or a batch is missing, corrupt or inconsistent. */
class data_error : public error {
 public:
  using error::error;
};

/** @brief Tensor shapes do not fit the operation they are passed to. */
class shape_error : public error {
 public:
  using error::error;
};

/** @brief A computation became non-finite (a training loss that diverged). */
class numeric_error : public error {
 public:
  using error::error;
};

/** @brief An API was used out of order (a backward without a forward, say). */
class logic_error : public error {
 public:
  using error::error;
};

}  // namespace ofa
