// SPDX-License-Identifier: Apache-2.0
#pragma once
// The CPU counter the page is calibrated against, chosen at compile time.
#include <cstdint>

#include "abi.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace vmc {

#if defined(__x86_64__) || defined(__i386__)
inline constexpr abi::CounterId kNativeCounter = abi::CounterId::x86_tsc;
// rdtscp waits for earlier instructions to complete, so the reading cannot
// drift outside the clock_gettime bracket around it.
inline uint64_t read_counter() {
  unsigned aux;
  return __rdtscp(&aux);
}
// Without the wait: may execute a few dozen cycles early. libvmclock's
// now() can afford this (see its fast path): a pause of the guest flushes
// every instruction not yet retired, so a reading never pairs a
// calibration from before a migration with a counter from after it.
inline uint64_t read_counter_unordered() { return __rdtsc(); }
#elif defined(__aarch64__)
inline constexpr abi::CounterId kNativeCounter = abi::CounterId::arm_vcnt;
// isb keeps the read from being speculated ahead of earlier instructions.
inline uint64_t read_counter() {
  uint64_t v;
  asm volatile("isb; mrs %0, cntvct_el0" : "=r"(v)::"memory");
  return v;
}
inline uint64_t read_counter_unordered() {
  uint64_t v;
  asm volatile("mrs %0, cntvct_el0" : "=r"(v)::"memory");
  return v;
}
#else
#error "vmclock needs an x86 TSC or an arm64 virtual counter"
#endif

}  // namespace vmc
