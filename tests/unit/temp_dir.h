// SPDX-License-Identifier: Apache-2.0
#pragma once
// A fresh directory per test case under /tmp, removed with everything in
// it afterwards: the one the unit tests share.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace vmc::test {

struct TempDir {
  std::string path;
  explicit TempDir(const char* what = "unit") {
    std::string t = std::string("/tmp/vmc-") + what + "-XXXXXX";
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string join(const std::string& n) const { return path + "/" + n; }
  std::string write(const std::string& n, const std::string& text) const {
    std::ofstream(join(n), std::ios::binary) << text;
    return join(n);
  }
};

}  // namespace vmc::test
