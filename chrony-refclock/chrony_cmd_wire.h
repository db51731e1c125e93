// SPDX-License-Identifier: Apache-2.0
#pragma once
// chronyd's command protocol (cmdmon, protocol version 6) as chrony 4.3's
// candm.h and pktlength.c define it: every byte-order and length rule lives
// here, apart from the socket code (chrony_cmd.cpp), as linuxptp keeps
// tlv.c apart from pmc_common.c. All fields are big-endian.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace vmc::chrony::cmd {

inline constexpr uint8_t kProtoVersion = 6;
inline constexpr uint8_t kPktRequest = 1;
inline constexpr uint8_t kPktReply = 2;
inline constexpr size_t kRequestHeaderLen = 20;  // offsetof(CMD_Request, data)
inline constexpr size_t kReplyHeaderLen = 28;    // offsetof(CMD_Reply, data)

// Only the commands vmclockd and its tools send (candm.h REQ_*).
enum class Command : uint16_t { null = 0, burst = 3, tracking = 33, make_step = 43, reset_sources = 66 };
// RPY_NULL: the reply to NULL, BURST, MAKESTEP and RESET_SOURCES, and to
// any command chronyd refuses (the status says why).
inline constexpr uint16_t kReplyNull = 1;
inline constexpr uint16_t kReplyTracking = 5;  // RPY_TRACKING: TRACKING's reply when it succeeds

// STT_* from candm.h.
enum class StatusCode : uint16_t {
  success = 0, failed = 1, unauth = 2, invalid = 3, no_such_source = 4, invalid_ts = 5,
  not_enabled = 6, bad_subnet = 7, access_allowed = 8, access_denied = 9, no_host_access = 10,
  source_already_known = 11, too_many_sources = 12, no_rtc = 13, bad_rtc_file = 14, inactive = 15,
  bad_sample = 16, invalid_af = 17, bad_pkt_version = 18, bad_pkt_length = 19, invalid_name = 21,
};

struct Request {
  Command command = Command::null;
  uint16_t attempt = 0;  // resends of the same sequence, from 0
  uint32_t sequence = 0;
  // BURST only: like `chronyc burst good/total` with no address, which
  // addresses every NTP source (IPADDR_UNSPEC mask and address).
  int32_t burst_good = 4;
  int32_t burst_total = 8;
  bool operator==(const Request&) const = default;
};

struct Reply {
  uint8_t version = kProtoVersion;
  uint16_t command = 0;
  uint16_t reply_type = kReplyNull;
  uint16_t status = 0;
  uint32_t sequence = 0;
  bool operator==(const Reply&) const = default;
};

// Bytes chronyd expects for the command, request padding included (it
// pads requests to the reply's length, so a request cannot be used to
// amplify): NULL, MAKESTEP and RESET_SOURCES 28, BURST 68, TRACKING 104.
// 0 for a command this module does not know.
size_t request_length(Command c);
size_t reply_length(uint16_t reply_type);  // RPY_NULL 28, RPY_TRACKING 104; 0 when unknown

std::vector<uint8_t> encode_request(const Request& r);
// For fakes and tests: reply_length(reply_type) bytes (at least the
// header), any payload zero.
std::vector<uint8_t> encode_reply(const Reply& r);

// Length, version, packet type and reserved bytes checked before any field
// is trusted; Errc::data names what was wrong. Any byte string is safe.
Result<Reply> decode_reply(std::span<const uint8_t> bytes);
Result<Request> decode_request(std::span<const uint8_t> bytes);

// candm.h's Float: 7-bit signed exponent, 25-bit signed coefficient,
// value coef * 2^(exp - 25). Both directions exactly as chrony 4.3's
// UTI_FloatHostToNetwork / UTI_FloatNetworkToHost (util.c), in host byte
// order: NaN becomes 0, |x| < 1e-100 becomes 0, large values saturate at
// about +-4.6e18. Every Float decodes to a double that encodes back to it
// or to another Float of the same value.
uint32_t float_to_wire(double x);
double float_from_wire(uint32_t f);

// candm.h's IPAddr decoded as UTI_IPNetworkToHost does: a family chrony
// does not know becomes unspec. addr holds the address in network order
// (4 bytes for inet4 and id, 16 for inet6); bytes a family does not use
// are zero, so equal addresses compare equal.
struct IpAddr {
  enum Family : uint16_t { unspec = 0, inet4 = 1, inet6 = 2, id = 3 };
  uint16_t family = unspec;
  std::array<uint8_t, 16> addr{};
  bool operator==(const IpAddr&) const = default;
};
// As chronyc prints it (UTI_IPToString): "[UNSPEC]", "192.0.2.1",
// "2001:db8::1", "ID#0000000001".
std::string to_string(const IpAddr& a);

// RPY_Tracking (candm.h) in host types: what `chronyc tracking` shows.
// Offsets in seconds, frequencies in ppm, as chronyc prints them.
struct Tracking {
  uint32_t ref_id = 0;       // "Reference ID", e.g. 0x564d4300 for refid VMC
  IpAddr ip_addr{};          // the reference's address; unspec for a refclock
  uint16_t stratum = 0;
  uint16_t leap_status = 0;  // 0 normal, 1 insert, 2 delete, 3 unsynchronised
  // Last clock update (Timespec: sec high, sec low, nsec). As chrony
  // reads it: a high word of 0x7fffffff (a 32-bit time_t sender) is 0 and
  // nsec is at most 999999999.
  int64_t ref_time_sec = 0;
  uint32_t ref_time_nsec = 0;
  double current_correction = 0;  // "System time": > 0 when the system clock is slow
  double last_offset = 0;
  double rms_offset = 0;
  double freq_ppm = 0;  // "Frequency": > 0 when the system clock runs fast
  double resid_freq_ppm = 0;
  double skew_ppm = 0;
  double root_delay = 0;
  double root_dispersion = 0;
  double last_update_interval = 0;
  bool operator==(const Tracking&) const = default;
};

// A whole RPY_TRACKING: header first (reply_type set to RPY_TRACKING
// whatever `header` says), for fakes and tests.
std::vector<uint8_t> encode_tracking_reply(Reply header, const Tracking& t);
// The payload of a RPY_TRACKING reply, after decode_reply's checks and a
// check that the reply type is RPY_TRACKING. It does not look at the
// status (chronyd answers a refused TRACKING with RPY_NULL). Any byte
// string is safe.
Result<Tracking> decode_tracking(std::span<const uint8_t> bytes);

std::string refid_name(uint32_t ref_id);        // its printable bytes, as chronyc: "VMC"
std::string_view leap_name(uint16_t leap);      // "Normal", ..., "Not synchronised", "Invalid"
std::string_view command_name(uint16_t command);  // "RESET_SOURCES", or ""
std::string_view status_name(uint16_t status);    // "SUCCESS", "NOSUCHSOURCE", or ""

}  // namespace vmc::chrony::cmd
