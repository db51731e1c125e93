// SPDX-License-Identifier: Apache-2.0
// ptp_wire against datagrams captured between pmc and ptp4l 3.1.1
// (tests/ptp-captures/pmc-3.1.1.txt, made by capture.sh there).
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "ptp_wire.h"

using namespace vmc;
using namespace vmc::ptp;

namespace {

struct Exchange {
  std::string command;
  std::vector<uint8_t> req, rsp;
};

std::vector<uint8_t> unhex(const std::string& s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
  return out;
}

std::vector<Exchange> load_captures() {
  std::ifstream in(VMC_SOURCE_DIR "/tests/ptp-captures/pmc-3.1.1.txt");
  REQUIRE(in);
  std::vector<Exchange> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# pmc -u -b 0 ", 0) == 0) out.push_back({line.substr(14), {}, {}});
    else if (line.rfind("req ", 0) == 0) out.back().req = unhex(line.substr(4));
    else if (line.rfind("rsp ", 0) == 0) out.back().rsp = unhex(line.substr(4));
  }
  return out;
}

const Exchange& find(const std::vector<Exchange>& all, const std::string& prefix, int nth = 0) {
  for (const auto& e : all)
    if (e.command.rfind(prefix, 0) == 0 && nth-- == 0) return e;
  FAIL("no capture for " << prefix);
  throw;  // unreachable: FAIL throws
}

// The capture's ptp4l clock identity, from the first reply.
ClockIdentity gm_identity(const std::vector<Exchange>& all) {
  auto m = decode_message(all.at(0).rsp);
  REQUIRE(m.ok());
  return m->source.clock_identity;
}

template <class T>
T payload_of(const std::vector<uint8_t>& bytes) {
  auto m = decode_message(bytes);
  REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
  REQUIRE(std::holds_alternative<T>(m->payload));
  return std::get<T>(m->payload);
}

}  // namespace

TEST_CASE("captured pmc requests decode, and re-encode byte for byte") {
  auto all = load_captures();
  REQUIRE(all.size() >= 10);
  for (const auto& e : all) {
    CAPTURE(e.command);
    REQUIRE(!e.req.empty());
    auto m = decode_message(e.req);
    REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
    CHECK(m->domain_number == 0);
    CHECK(m->boundary_hops == 0);
    CHECK(m->source.clock_identity == ClockIdentity{});  // pmc: no identity, pid as port
    CHECK(encode_message(*m) == e.req);
  }
}

TEST_CASE("our GET is the request pmc sends") {
  auto all = load_captures();
  const auto& e = find(all, "GET GRANDMASTER_SETTINGS_NP");
  auto pmc = decode_message(e.req);
  REQUIRE(pmc.ok());
  Message m;
  m.sequence_id = pmc->sequence_id;
  m.source = pmc->source;
  m.action = Action::get;
  m.management_id = mid::grandmaster_settings_np;
  CHECK(encode_message(m) == e.req);
  CHECK(pmc->target == PortIdentity::wildcard());
  CHECK(std::holds_alternative<std::monostate>(pmc->payload));
}

TEST_CASE("our SET of GRANDMASTER_SETTINGS_NP is the request pmc sends") {
  auto all = load_captures();
  const auto& e = find(all, "SET GRANDMASTER_SETTINGS_NP clockClass 6");
  auto pmc = decode_message(e.req);
  REQUIRE(pmc.ok());
  Message m;
  m.sequence_id = pmc->sequence_id;
  m.source = pmc->source;
  m.action = Action::set;
  m.management_id = mid::grandmaster_settings_np;
  m.payload = GrandmasterSettings{{6, 0x21, 0x4e5d}, 37,
                                  time_flag::utc_off_valid | time_flag::time_traceable | time_flag::freq_traceable,
                                  0x90};
  CHECK(encode_message(m) == e.req);
}

TEST_CASE("captured ptp4l replies decode to what pmc printed") {
  auto all = load_captures();
  auto gm = gm_identity(all);

  SUBCASE("GRANDMASTER_SETTINGS_NP defaults of ptp4l 3.1.1") {
    auto m = decode_message(find(all, "GET GRANDMASTER_SETTINGS_NP").rsp);
    REQUIRE(m.ok());
    CHECK(m->action == Action::response);
    CHECK(m->management_id == mid::grandmaster_settings_np);
    CHECK(m->source == PortIdentity{gm, 0});
    CHECK(std::get<GrandmasterSettings>(m->payload) == GrandmasterSettings{});  // 248 0xfe 0xffff 37 0 0xa0
  }
  SUBCASE("SET echoes the new settings") {
    auto s = payload_of<GrandmasterSettings>(find(all, "SET GRANDMASTER_SETTINGS_NP clockClass 6").rsp);
    CHECK(s == GrandmasterSettings{{6, 0x21, 0x4e5d}, 37, 0x34, 0x90});
    auto after = payload_of<GrandmasterSettings>(find(all, "GET GRANDMASTER_SETTINGS_NP", 1).rsp);
    CHECK(after == s);
  }
  SUBCASE("negative UTC offset, LEAP_59, PTP_TIMESCALE") {
    auto s = payload_of<GrandmasterSettings>(find(all, "SET GRANDMASTER_SETTINGS_NP clockClass 7").rsp);
    CHECK(s.quality == ClockQuality{7, 0x31, 0x8000});
    CHECK(s.current_utc_offset == -2);
    CHECK(s.time_flags == (time_flag::leap_59 | time_flag::utc_off_valid | time_flag::ptp_timescale |
                           time_flag::freq_traceable));
    CHECK(s.time_source == 0x10);
    auto tp = payload_of<TimePropertiesDataSet>(find(all, "GET TIME_PROPERTIES_DATA_SET", 1).rsp);
    CHECK(tp == TimePropertiesDataSet{-2, s.time_flags, 0x10});
  }
  SUBCASE("LEAP_61 with UTC_OFF_VALID clear") {
    auto s = payload_of<GrandmasterSettings>(find(all, "SET GRANDMASTER_SETTINGS_NP clockClass 248").rsp);
    CHECK(s == GrandmasterSettings{{248, 0xfe, 0xffff}, 37, time_flag::leap_61, 0xa0});
  }
  SUBCASE("TIME_PROPERTIES_DATA_SET") {
    auto tp = payload_of<TimePropertiesDataSet>(find(all, "GET TIME_PROPERTIES_DATA_SET").rsp);
    CHECK(tp == TimePropertiesDataSet{37, 0x34, 0x90});
  }
  SUBCASE("PARENT_DATA_SET") {
    auto p = payload_of<ParentDataSet>(find(all, "GET PARENT_DATA_SET").rsp);
    CHECK(p.parent_port_identity == PortIdentity{gm, 0});
    CHECK(p.parent_stats == 0);
    CHECK(p.observed_parent_offset_scaled_log_variance == 0xffff);
    CHECK(p.observed_parent_clock_phase_change_rate == 0x7fffffff);
    CHECK(p.grandmaster_priority1 == 128);
    CHECK(p.grandmaster_clock_quality == ClockQuality{6, 0x21, 0x4e5d});
    CHECK(p.grandmaster_priority2 == 128);
    CHECK(p.grandmaster_identity == gm);
  }
  SUBCASE("PORT_DATA_SET comes from port 1") {
    auto m = decode_message(find(all, "GET PORT_DATA_SET").rsp);
    REQUIRE(m.ok());
    CHECK(m->source == PortIdentity{gm, 1});
    auto p = std::get<PortDataSet>(m->payload);
    CHECK(p.port_identity == PortIdentity{gm, 1});
    CHECK(p.port_state == 2);  // FAULTY: the veth's peer is down
    CHECK(p.log_min_delay_req_interval == 0);
    CHECK(p.peer_mean_path_delay == 0);
    CHECK(p.log_announce_interval == 1);
    CHECK(p.announce_receipt_timeout == 3);
    CHECK(p.log_sync_interval == 0);
    CHECK(p.delay_mechanism == 1);
    CHECK(p.log_min_pdelay_req_interval == 0);
    CHECK(p.version_number == 2);
  }
  SUBCASE("MANAGEMENT_ERROR_STATUS for a port that does not exist") {
    const auto& e = find(all, "TARGET");
    auto req = decode_message(e.req);
    REQUIRE(req.ok());
    CHECK(req->target == PortIdentity{gm, 7});
    auto m = decode_message(e.rsp);
    REQUIRE(m.ok());
    CHECK(m->is_error());
    CHECK(m->management_id == mid::port_data_set);
    CHECK(std::get<ErrorStatus>(m->payload) == ErrorStatus{ManagementError::wrong_value, ""});
    CHECK(describe_error(std::get<ErrorStatus>(m->payload), m->management_id) ==
          "MANAGEMENT_ERROR_STATUS WRONG_VALUE (0x0004) for PORT_DATA_SET");
  }
}

TEST_CASE("every captured reply re-encodes byte for byte") {
  for (const auto& e : load_captures()) {
    CAPTURE(e.command);
    auto m = decode_message(e.rsp);
    REQUIRE(m.ok());
    CHECK(encode_message(*m) == e.rsp);
  }
}

TEST_CASE("every truncation of every capture is an error, never a read past the end") {
  for (const auto& e : load_captures()) {
    for (const auto* bytes : {&e.req, &e.rsp}) {
      for (size_t n = 0; n < bytes->size(); ++n) {
        // A copy of exactly n bytes, so ASan sees any read past it.
        std::vector<uint8_t> cut(bytes->begin(), bytes->begin() + static_cast<long>(n));
        auto m = decode_message(cut);
        CHECK_FALSE(m.ok());
        if (!m.ok()) CHECK(m.error().code == Errc::data);
      }
    }
  }
}

TEST_CASE("malformed messages name what is wrong") {
  auto all = load_captures();
  auto good = find(all, "SET GRANDMASTER_SETTINGS_NP clockClass 6").rsp;
  auto with = [&](size_t off, uint8_t v) {
    auto b = good;
    b[off] = v;
    auto m = decode_message(b);
    REQUIRE_FALSE(m.ok());
    return m.error().message;
  };
  CHECK(with(0, 0x00).find("messageType") != std::string::npos);
  CHECK(with(1, 0x01).find("versionPTP") != std::string::npos);
  CHECK(with(3, 0xff).find("messageLength") != std::string::npos);   // longer than the datagram
  CHECK(with(3, 0x30).find("messageLength") != std::string::npos);   // shorter than a management message
  CHECK(with(46, 0x07).find("actionField") != std::string::npos);
  CHECK(with(49, 0x03).find("TLV type") != std::string::npos);
  CHECK(with(51, 0x40).find("lengthField") != std::string::npos);    // beyond messageLength
  CHECK(with(51, 0x08).find("after the TLV") != std::string::npos);
  {
    auto b = good;  // an empty TLV: too short even for the managementId
    b.resize(kManagementBytes + kTlvHeaderBytes);
    b[3] = static_cast<uint8_t>(b.size());
    b[51] = 0x00;
    auto m = decode_message(b);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().message == "MANAGEMENT TLV lengthField is 0, too short for a managementId");
  }
  {
    // An odd lengthField (fuzz finding ptp-odd-tlv-length): the encoder pads
    // TLVs to even lengths, so such a message could not round-trip.
    auto b = good;
    b.resize(b.size() - 1);
    b[3] = static_cast<uint8_t>(b.size());
    b[51] = static_cast<uint8_t>(b[51] - 1);
    auto m = decode_message(b);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().message == "TLV lengthField is 9, odd (TLVs have even lengths)");
  }

  // GRANDMASTER_SETTINGS_NP with 6 bytes of data: TLV and message shortened together.
  auto b = good;
  b.resize(b.size() - 2);
  b[3] = static_cast<uint8_t>(b.size());
  b[51] = 0x08;
  auto m = decode_message(b);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message == "GRANDMASTER_SETTINGS_NP data is 6 bytes, expected 8");

  // A bytes after messageLength are ignored, as ptp4l does (Ethernet padding).
  auto padded = good;
  padded.push_back(0);
  CHECK(decode_message(padded).ok());
}

TEST_CASE("error status with displayData round-trips; bad displayData length is caught") {
  Message m;
  m.action = Action::response;
  m.management_id = mid::grandmaster_settings_np;
  m.payload = ErrorStatus{ManagementError::not_supported, "nope"};
  auto b = encode_message(m);
  CHECK(b.size() % 2 == 0);
  auto back = decode_message(b);
  REQUIRE(back.ok());
  CHECK(*back == m);
  b[60] = 50;  // displayData length beyond the TLV
  auto bad = decode_message(b);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("displayData") != std::string::npos);
}

TEST_CASE("unknown managementIds keep their bytes") {
  Message m;
  m.action = Action::response;
  m.management_id = 0x2005;
  m.payload = Opaque{{1, 2, 3, 4}};
  auto back = decode_message(encode_message(m));
  REQUIRE(back.ok());
  CHECK(*back == m);
  CHECK(management_id_name(0x2005).empty());
}

TEST_CASE("identities print as pmc prints them") {
  PortIdentity p{{0xca, 0xc1, 0xc4, 0xff, 0xfe, 0x2d, 0x5d, 0xc6}, 1};
  CHECK(to_string(p) == "cac1c4.fffe.2d5dc6-1");
}
