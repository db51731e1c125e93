// SPDX-License-Identifier: Apache-2.0
#pragma once
// One error type for every boundary of the library: a sysexits-style code
// (so a CLI can exit with it unchanged) and a message that names the file,
// field or option and the offending value.
#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace vmc {

enum class Errc : int {
  usage = 64,        // EX_USAGE
  data = 65,         // EX_DATAERR: the page or a reply is malformed
  no_input = 66,     // EX_NOINPUT: cannot open
  unavailable = 69,  // EX_UNAVAILABLE: no time data
  software = 70,     // EX_SOFTWARE
  os = 71,           // EX_OSERR
  io = 74,           // EX_IOERR
  temp_fail = 75,    // EX_TEMPFAIL: try again (seqlock busy, peer absent)
  config = 78,       // EX_CONFIG
};

struct Error {
  Errc code;
  std::string message;
};

// A std::expected-shaped result (C++23's is not available in C++20). E is
// Error or a type derived from it that adds typed facts a caller may test
// (PageError, seqlock.h): never more text.
template <class T, class E = Error>
class Result {
 public:
  Result(T v) : v_(std::move(v)) {}            // NOLINT: implicit by design
  Result(E e) : v_(std::move(e)) {}            // NOLINT
  // A result with a more detailed error gives up the detail where only
  // the Error is wanted.
  template <class E2>
    requires(std::is_base_of_v<E, E2> && !std::is_same_v<E, E2>)
  Result(Result<T, E2> o) : v_(o ? std::variant<T, E>(std::move(*o)) : std::variant<T, E>(E(o.error()))) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { assert(ok()); return std::get<0>(v_); }
  const T& value() const { assert(ok()); return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const E& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error make_error(Errc c, std::string msg) { return Error{c, std::move(msg)}; }

}  // namespace vmc
