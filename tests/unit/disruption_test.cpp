// SPDX-License-Identifier: Apache-2.0
// DisruptionTracker (src/core/disruption.cpp): baseline, marker and generation
// changes, a generation counter that appears or vanishes, and the
// SOON / IMMINENT warnings.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "disruption.h"

using namespace vmc;
using abi::Flag;
using K = DisruptionEvent::Kind;

namespace {

Page page(uint64_t marker, std::optional<uint64_t> gen = std::nullopt, bool soon = false, bool imminent = false) {
  Page p;
  p.disruption_marker = marker;
  p.vm_generation_counter = gen;
  if (gen) p.flags = p.flags.with(Flag::vm_gen_counter_present);
  if (soon) p.flags = p.flags.with(Flag::disruption_soon);
  if (imminent) p.flags = p.flags.with(Flag::disruption_imminent);
  return p;
}

std::vector<K> kinds(const std::vector<DisruptionEvent>& ev) {
  std::vector<K> k;
  for (auto& e : ev) k.push_back(e.kind);
  return k;
}

}  // namespace

TEST_CASE("disruption: the first page only sets the baseline") {
  DisruptionTracker t;
  CHECK_FALSE(t.marker().has_value());
  CHECK_FALSE(t.generation().has_value());
  // Even with every warning raised: nothing has *changed* yet.
  auto ev = t.update(page(5, 3, true, true));
  CHECK(ev.empty());
  CHECK(t.marker() == 5u);
  CHECK(t.generation() == 3u);
  CHECK(t.soon());
  CHECK(t.imminent());
  // The same page again: still nothing.
  CHECK(t.update(page(5, 3, true, true)).empty());
}

TEST_CASE("disruption: the Firecracker page as baseline, then a restore") {
  // Firecracker: marker 1, generation 1; on restore both bump.
  DisruptionTracker t;
  CHECK(t.update(page(1, 1)).empty());
  auto ev = t.update(page(2, 2));
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].kind == K::marker_changed);
  CHECK(ev[0].old_value == 1);
  CHECK(ev[0].new_value == 2);
  CHECK(ev[1].kind == K::generation_changed);
  CHECK(ev[1].old_value == 1);
  CHECK(ev[1].new_value == 2);
  CHECK(DisruptionTracker::is_disruption(ev[0]));
  CHECK(DisruptionTracker::is_disruption(ev[1]));
  CHECK(describe(ev[0]) == "disruption_marker 1 -> 2");
  CHECK(describe(ev[1]) == "vm_generation_counter 1 -> 2");
  CHECK(t.marker() == 2u);
  CHECK(t.generation() == 2u);
}

TEST_CASE("disruption: marker change alone (QEMU: no generation counter)") {
  DisruptionTracker t;
  t.update(page(10));
  auto ev = t.update(page(11));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == K::marker_changed);
  CHECK(ev[0].old_value == 10);
  CHECK(ev[0].new_value == 11);
  // Any change counts, also backwards and to 0.
  ev = t.update(page(0));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].old_value == 11);
  CHECK(ev[0].new_value == 0);
  CHECK(t.update(page(0)).empty());
}

TEST_CASE("disruption: generation change alone") {
  DisruptionTracker t;
  t.update(page(7, 100));
  auto ev = t.update(page(7, 101));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == K::generation_changed);
  CHECK(ev[0].old_value == 100);
  CHECK(ev[0].new_value == 101);
}

TEST_CASE("disruption: an absent generation counter") {
  DisruptionTracker t;
  SUBCASE("appearing is not a restore") {
    t.update(page(7));
    CHECK_FALSE(t.generation().has_value());
    CHECK(t.update(page(7, 5)).empty());
    CHECK(t.generation() == 5u);
    // ... but a change after it appeared is.
    CHECK(kinds(t.update(page(7, 6))) == std::vector<K>{K::generation_changed});
  }
  SUBCASE("vanishing is not a restore, and the last value is remembered") {
    t.update(page(7, 5));
    CHECK(t.update(page(7)).empty());
    CHECK(t.generation() == 5u);
    CHECK(t.update(page(7, 5)).empty());  // back with the same value: nothing
    auto ev = t.update(page(7, 8));
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].old_value == 5);
  }
  SUBCASE("present in the bytes but the flag clear: absent") {
    // decode() leaves the optional empty then; the tracker sees nullopt.
    t.update(page(7));
    Page p = page(7);
    p.flags = p.flags.without(Flag::vm_gen_counter_present);
    CHECK(t.update(p).empty());
    CHECK_FALSE(t.generation().has_value());
  }
}

TEST_CASE("disruption: soon and imminent raised and cleared") {
  DisruptionTracker t;
  t.update(page(1));
  CHECK_FALSE(t.soon());
  CHECK_FALSE(t.imminent());

  auto ev = t.update(page(1, std::nullopt, true, false));
  CHECK(kinds(ev) == std::vector<K>{K::soon_raised});
  CHECK(t.soon());
  CHECK(describe(ev[0]) == "disruption_soon raised");
  CHECK_FALSE(DisruptionTracker::is_disruption(ev[0]));

  CHECK(t.update(page(1, std::nullopt, true, false)).empty());  // still raised: no repeat

  ev = t.update(page(1, std::nullopt, true, true));
  CHECK(kinds(ev) == std::vector<K>{K::imminent_raised});
  CHECK(t.imminent());
  CHECK(describe(ev[0]) == "disruption_imminent raised");

  // The migration: marker bumps, both warnings clear, in one page.
  ev = t.update(page(2, std::nullopt, false, false));
  CHECK(kinds(ev) == std::vector<K>{K::marker_changed, K::soon_cleared, K::imminent_cleared});
  CHECK(describe(ev[1]) == "disruption_soon cleared");
  CHECK(describe(ev[2]) == "disruption_imminent cleared");
  CHECK_FALSE(t.soon());
  CHECK_FALSE(t.imminent());
  for (auto& e : ev) CHECK(DisruptionTracker::is_disruption(e) == (e.kind == K::marker_changed));
}

TEST_CASE("disruption: reset() starts a new baseline") {
  DisruptionTracker t;
  t.update(page(1, 1, true));
  t.reset();
  CHECK_FALSE(t.marker().has_value());
  CHECK_FALSE(t.soon());
  CHECK(t.update(page(9, 9)).empty());
  CHECK(t.marker() == 9u);
}
