#pragma once
// A fresh directory under /tmp for one test case, removed with everything
// in it afterwards. For tests that need real files (fake /sys trees, pages,
// configuration files).
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    std::string tmpl = "/tmp/vmc-" + tag + ".XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) MESSAGE("could not remove " << path << ": " << ec.message());
  }
};
