#include "chrony_cmd_wire.h"

#include <fmt/format.h>

namespace vmc::chrony::cmd {
namespace {

// sizeof(IPAddr) in candm.h: a 16-byte union, u16 family, u16 pad.
constexpr size_t kIpAddrLen = 20;

void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
void put32(uint8_t* p, uint32_t v) { put16(p, uint16_t(v >> 16)); put16(p + 2, uint16_t(v)); }
uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t(get16(p)) << 16 | get16(p + 2); }

// Request data length (offset of the EOR field) per command.
size_t data_length(Command c) {
  switch (c) {
    case Command::null:
    case Command::make_step:
    case Command::reset_sources: return 0;                 // REQ_Null
    case Command::burst: return 2 * kIpAddrLen + 8;        // REQ_Burst
  }
  return SIZE_MAX;
}

bool known(uint16_t c) {
  return c == uint16_t(Command::null) || c == uint16_t(Command::burst) || c == uint16_t(Command::make_step) ||
         c == uint16_t(Command::reset_sources);
}

}  // namespace

size_t request_length(Command c) {
  size_t d = data_length(c);
  if (d == SIZE_MAX) return 0;
  size_t len = kRequestHeaderLen + d;
  size_t rpy = reply_length(kReplyNull);
  return len < rpy ? rpy : len;  // pktlength.c PADDING_LENGTH
}

size_t reply_length(uint16_t reply_type) { return reply_type == kReplyNull ? kReplyHeaderLen : 0; }

std::vector<uint8_t> encode_request(const Request& r) {
  std::vector<uint8_t> out(request_length(r.command), 0);
  if (out.empty()) return out;
  out[0] = kProtoVersion;
  out[1] = kPktRequest;
  put16(&out[4], uint16_t(r.command));
  put16(&out[6], r.attempt);
  put32(&out[8], r.sequence);
  if (r.command == Command::burst) {
    // mask and address stay zero: family IPADDR_UNSPEC, as chronyc sends.
    put32(&out[kRequestHeaderLen + 2 * kIpAddrLen], uint32_t(r.burst_good));
    put32(&out[kRequestHeaderLen + 2 * kIpAddrLen + 4], uint32_t(r.burst_total));
  }
  return out;
}

std::vector<uint8_t> encode_reply(const Reply& r) {
  std::vector<uint8_t> out(kReplyHeaderLen, 0);
  out[0] = r.version;
  out[1] = kPktReply;
  put16(&out[4], r.command);
  put16(&out[6], r.reply_type);
  put16(&out[8], r.status);
  put32(&out[16], r.sequence);
  return out;
}

Result<Reply> decode_reply(std::span<const uint8_t> b) {
  if (b.size() < kReplyHeaderLen)
    return make_error(Errc::data, fmt::format("chronyc: reply of {} bytes, shorter than the {}-byte header",
                                              b.size(), kReplyHeaderLen));
  Reply r;
  r.version = b[0];
  if (r.version != kProtoVersion)
    return make_error(Errc::data, fmt::format("chronyc: reply has protocol version {}, not {}", r.version,
                                              kProtoVersion));
  if (b[1] != kPktReply)
    return make_error(Errc::data, fmt::format("chronyc: packet type {} is not a reply", b[1]));
  if (b[2] != 0 || b[3] != 0)
    return make_error(Errc::data, fmt::format("chronyc: reply reserved bytes {} {} not zero", b[2], b[3]));
  r.command = get16(&b[4]);
  r.reply_type = get16(&b[6]);
  r.status = get16(&b[8]);
  r.sequence = get32(&b[16]);
  size_t need = reply_length(r.reply_type);
  if (need == 0)
    return make_error(Errc::data, fmt::format("chronyc: reply type {} not expected for our commands", r.reply_type));
  if (b.size() < need)
    return make_error(Errc::data, fmt::format("chronyc: reply type {} needs {} bytes, got {}", r.reply_type,
                                              need, b.size()));
  return r;
}

Result<Request> decode_request(std::span<const uint8_t> b) {
  if (b.size() < kRequestHeaderLen)
    return make_error(Errc::data, fmt::format("chronyc: request of {} bytes, shorter than the {}-byte header",
                                              b.size(), kRequestHeaderLen));
  if (b[0] != kProtoVersion || b[1] != kPktRequest || b[2] != 0 || b[3] != 0)
    return make_error(Errc::data, fmt::format("chronyc: bad request header {} {} {} {}", b[0], b[1], b[2], b[3]));
  uint16_t c = get16(&b[4]);
  if (!known(c)) return make_error(Errc::data, fmt::format("chronyc: request command {} unknown", c));
  Request r;
  r.command = Command(c);
  r.attempt = get16(&b[6]);
  r.sequence = get32(&b[8]);
  size_t need = request_length(r.command);
  if (b.size() < need)
    return make_error(Errc::data, fmt::format("chronyc: {} request needs {} bytes, got {}", command_name(c),
                                              need, b.size()));
  if (r.command == Command::burst) {
    r.burst_good = int32_t(get32(&b[kRequestHeaderLen + 2 * kIpAddrLen]));
    r.burst_total = int32_t(get32(&b[kRequestHeaderLen + 2 * kIpAddrLen + 4]));
  } else {
    r.burst_good = Request{}.burst_good;
    r.burst_total = Request{}.burst_total;
  }
  return r;
}

std::string_view command_name(uint16_t c) {
  switch (c) {
    case 0: return "NULL";
    case 3: return "BURST";
    case 43: return "MAKESTEP";
    case 66: return "RESET_SOURCES";
  }
  return "";
}

std::string_view status_name(uint16_t s) {
  static constexpr std::string_view names[] = {
      "SUCCESS",    "FAILED",           "UNAUTH",        "INVALID",       "NOSUCHSOURCE",
      "INVALIDTS",  "NOTENABLED",       "BADSUBNET",     "ACCESSALLOWED", "ACCESSDENIED",
      "NOHOSTACCESS", "SOURCEALREADYKNOWN", "TOOMANYSOURCES", "NORTC",     "BADRTCFILE",
      "INACTIVE",   "BADSAMPLE",        "INVALIDAF",     "BADPKTVERSION", "BADPKTLENGTH",
      "",           "INVALIDNAME"};
  return s < std::size(names) ? names[s] : "";
}

}  // namespace vmc::chrony::cmd
