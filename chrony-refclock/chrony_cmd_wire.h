#pragma once
// chronyd's command protocol (cmdmon, protocol version 6) as chrony 4.3's
// candm.h and pktlength.c define it: every byte-order and length rule lives
// here, apart from the socket code (chrony_cmd.cpp), as linuxptp keeps
// tlv.c apart from pmc_common.c. All fields are big-endian.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "result.h"

namespace vmc::chrony::cmd {

inline constexpr uint8_t kProtoVersion = 6;
inline constexpr uint8_t kPktRequest = 1;
inline constexpr uint8_t kPktReply = 2;
inline constexpr size_t kRequestHeaderLen = 20;  // offsetof(CMD_Request, data)
inline constexpr size_t kReplyHeaderLen = 28;    // offsetof(CMD_Reply, data)

// Only the commands vmclockd sends (candm.h REQ_*).
enum class Command : uint16_t { null = 0, burst = 3, make_step = 43, reset_sources = 66 };
inline constexpr uint16_t kReplyNull = 1;  // RPY_NULL: the reply to all of the above

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
// pads requests to the reply's length): NULL, MAKESTEP and RESET_SOURCES
// 28, BURST 68. 0 for a command this module does not know.
size_t request_length(Command c);
size_t reply_length(uint16_t reply_type);  // RPY_NULL 28; 0 when unknown

std::vector<uint8_t> encode_request(const Request& r);
std::vector<uint8_t> encode_reply(const Reply& r);  // for fakes and tests

// Length, version, packet type and reserved bytes checked before any field
// is trusted; Errc::data names what was wrong. Any byte string is safe.
Result<Reply> decode_reply(std::span<const uint8_t> bytes);
Result<Request> decode_request(std::span<const uint8_t> bytes);

std::string_view command_name(uint16_t command);  // "RESET_SOURCES", or ""
std::string_view status_name(uint16_t status);    // "SUCCESS", "NOSUCHSOURCE", or ""

}  // namespace vmc::chrony::cmd
