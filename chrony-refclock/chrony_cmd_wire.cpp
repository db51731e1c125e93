// SPDX-License-Identifier: Apache-2.0
#include "chrony_cmd_wire.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace vmc::chrony::cmd {
namespace {

// sizeof(IPAddr) in candm.h: a 16-byte union, u16 family, u16 pad.
constexpr size_t kIpAddrLen = 20;

// RPY_Tracking, offsets from the start of the reply (candm.h; every field
// is naturally aligned, so there is no padding): u32 ref_id, IPAddr,
// u16 stratum, u16 leap_status, Timespec ref_time (3 x u32), 9 Floats,
// then EOR at 104.
constexpr size_t kTrkRefId = kReplyHeaderLen;            // 28
constexpr size_t kTrkIpAddr = kTrkRefId + 4;             // 32
constexpr size_t kTrkStratum = kTrkIpAddr + kIpAddrLen;  // 52
constexpr size_t kTrkLeap = kTrkStratum + 2;             // 54
constexpr size_t kTrkRefTime = kTrkLeap + 2;             // 56
constexpr size_t kTrkFloats = kTrkRefTime + 12;          // 68
constexpr size_t kTrackingLen = kTrkFloats + 9 * 4;      // 104
static_assert(kTrackingLen == 104);

// util.c: a Timespec high word meaning "the sender had a 32-bit time_t".
constexpr uint32_t kNoHighSec = 0x7fffffff;

// Float layout (util.c FLOAT_*).
constexpr int kFloatExpBits = 7;
constexpr int kFloatCoefBits = 32 - kFloatExpBits;
constexpr int32_t kFloatExpMin = -(1 << (kFloatExpBits - 1));
constexpr int32_t kFloatExpMax = -kFloatExpMin - 1;
constexpr int32_t kFloatCoefMin = -(1 << (kFloatCoefBits - 1));
constexpr int32_t kFloatCoefMax = -kFloatCoefMin - 1;

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
    case Command::tracking: return 0;                      // REQ_Null too
    case Command::burst: return 2 * kIpAddrLen + 8;        // REQ_Burst
  }
  return SIZE_MAX;
}

// The reply type chronyd sends when the command succeeds (pktlength.c's
// REQ_LENGTH_ENTRY second argument): it decides the request's padding.
uint16_t reply_type_of(Command c) { return c == Command::tracking ? kReplyTracking : kReplyNull; }

bool known(uint16_t c) {
  return c == uint16_t(Command::null) || c == uint16_t(Command::burst) || c == uint16_t(Command::make_step) ||
         c == uint16_t(Command::reset_sources) || c == uint16_t(Command::tracking);
}

}  // namespace

size_t request_length(Command c) {
  size_t d = data_length(c);
  if (d == SIZE_MAX) return 0;
  size_t len = kRequestHeaderLen + d;
  size_t rpy = reply_length(reply_type_of(c));
  return len < rpy ? rpy : len;  // pktlength.c PADDING_LENGTH
}

size_t reply_length(uint16_t reply_type) {
  switch (reply_type) {
    case kReplyNull: return kReplyHeaderLen;
    case kReplyTracking: return kTrackingLen;
  }
  return 0;
}

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
  // As long as the reply type needs (payload zero), so that what this
  // writes decode_reply takes back: a header alone is no RPY_TRACKING.
  std::vector<uint8_t> out(std::max(kReplyHeaderLen, reply_length(r.reply_type)), 0);
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

uint32_t float_to_wire(double x) {
  // util.c UTI_FloatHostToNetwork, step by step, so the bits are chrony's
  // (including where it truncates rather than rounds).
  int32_t exp, coef, neg;
  if (x < 0.0) {
    x = -x;
    neg = 1;
  } else if (x >= 0.0) {
    neg = 0;
  } else {  // NaN is sent as zero
    x = 0.0;
    neg = 0;
  }
  if (x < 1.0e-100) {
    exp = coef = 0;
  } else if (x > 1.0e100) {
    exp = kFloatExpMax;
    coef = kFloatCoefMax + neg;
  } else {
    exp = static_cast<int32_t>(std::log(x) / std::log(2) + 1);
    coef = static_cast<int32_t>(x * std::pow(2.0, -exp + kFloatCoefBits) + 0.5);
    // log() may put exp one too low: up to two bits to shift down.
    while (coef > kFloatCoefMax + neg) {
      coef >>= 1;
      exp++;
    }
    if (exp > kFloatExpMax) {  // overflow: saturate
      exp = kFloatExpMax;
      coef = kFloatCoefMax + neg;
    } else if (exp < kFloatExpMin) {  // underflow: denormal, or zero
      if (exp + kFloatCoefBits >= kFloatExpMin) {
        coef >>= kFloatExpMin - exp;
        exp = kFloatExpMin;
      } else {
        exp = coef = 0;
      }
    }
  }
  uint32_t c = static_cast<uint32_t>(coef);
  if (neg) c = (0u - c) << kFloatExpBits >> kFloatExpBits;  // 25-bit two's complement
  return static_cast<uint32_t>(exp) << kFloatCoefBits | c;
}

double float_from_wire(uint32_t x) {
  // util.c UTI_FloatNetworkToHost; ldexp is exact where chrony's
  // pow(2.0, exp) is too, so the doubles are the same.
  int32_t exp = static_cast<int32_t>(x >> kFloatCoefBits);
  if (exp >= 1 << (kFloatExpBits - 1)) exp -= 1 << kFloatExpBits;
  int32_t coef = static_cast<int32_t>(x % (1u << kFloatCoefBits));
  if (coef >= 1 << (kFloatCoefBits - 1)) coef -= 1 << kFloatCoefBits;
  return std::ldexp(static_cast<double>(coef), exp - kFloatCoefBits);
}

std::string to_string(const IpAddr& a) {
  const auto& b = a.addr;
  switch (a.family) {
    case IpAddr::unspec: return "[UNSPEC]";
    case IpAddr::inet4: return fmt::format("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
    case IpAddr::inet6: {
      char buf[INET6_ADDRSTRLEN] = {};
      if (!::inet_ntop(AF_INET6, b.data(), buf, sizeof buf)) return "[INET6?]";
      return buf;
    }
    case IpAddr::id: return fmt::format("ID#{:010}", get32(b.data()));
  }
  return "[UNKNOWN]";
}

std::vector<uint8_t> encode_tracking_reply(Reply header, const Tracking& t) {
  header.reply_type = kReplyTracking;
  std::vector<uint8_t> out = encode_reply(header);
  out.resize(kTrackingLen, 0);
  put32(&out[kTrkRefId], t.ref_id);
  // The union as UTI_IPHostToNetwork leaves it: the address bytes in
  // network order, the rest zero.
  size_t n = t.ip_addr.family == IpAddr::inet6 ? 16
           : (t.ip_addr.family == IpAddr::inet4 || t.ip_addr.family == IpAddr::id) ? 4 : 0;
  std::copy_n(t.ip_addr.addr.begin(), n, &out[kTrkIpAddr]);
  put16(&out[kTrkIpAddr + 16], n ? t.ip_addr.family : uint16_t(IpAddr::unspec));
  put16(&out[kTrkStratum], t.stratum);
  put16(&out[kTrkLeap], t.leap_status);
  put32(&out[kTrkRefTime], uint32_t(uint64_t(t.ref_time_sec) >> 32));
  put32(&out[kTrkRefTime + 4], uint32_t(uint64_t(t.ref_time_sec)));
  put32(&out[kTrkRefTime + 8], t.ref_time_nsec);
  const double floats[9] = {t.current_correction, t.last_offset, t.rms_offset, t.freq_ppm, t.resid_freq_ppm,
                            t.skew_ppm, t.root_delay, t.root_dispersion, t.last_update_interval};
  for (size_t i = 0; i < 9; ++i) put32(&out[kTrkFloats + 4 * i], float_to_wire(floats[i]));
  return out;
}

Result<Tracking> decode_tracking(std::span<const uint8_t> b) {
  auto h = decode_reply(b);  // length, version, packet type; b is at least reply_length(type) long
  if (!h) return h.error();
  if (h->reply_type != kReplyTracking)
    return make_error(Errc::data, fmt::format("chronyc: reply type {} is not RPY_TRACKING ({}) (status {} {})",
                                              h->reply_type, kReplyTracking, h->status, status_name(h->status)));
  Tracking t;
  t.ref_id = get32(&b[kTrkRefId]);
  // UTI_IPNetworkToHost: a family chrony does not know is unspec.
  uint16_t family = get16(&b[kTrkIpAddr + 16]);
  size_t n = family == IpAddr::inet6 ? 16 : (family == IpAddr::inet4 || family == IpAddr::id) ? 4 : 0;
  t.ip_addr.family = n ? family : uint16_t(IpAddr::unspec);
  std::copy_n(&b[kTrkIpAddr], n, t.ip_addr.addr.begin());
  t.stratum = get16(&b[kTrkStratum]);
  t.leap_status = get16(&b[kTrkLeap]);
  // UTI_TimespecNetworkToHost with a 64-bit time_t.
  uint32_t high = get32(&b[kTrkRefTime]);
  if (high == kNoHighSec) high = 0;
  t.ref_time_sec = static_cast<int64_t>(uint64_t(high) << 32 | get32(&b[kTrkRefTime + 4]));
  t.ref_time_nsec = std::min(get32(&b[kTrkRefTime + 8]), 999'999'999u);
  double* floats[9] = {&t.current_correction, &t.last_offset, &t.rms_offset, &t.freq_ppm, &t.resid_freq_ppm,
                       &t.skew_ppm, &t.root_delay, &t.root_dispersion, &t.last_update_interval};
  for (size_t i = 0; i < 9; ++i) *floats[i] = float_from_wire(get32(&b[kTrkFloats + 4 * i]));
  return t;
}

std::string refid_name(uint32_t ref_id) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) {
    char c = static_cast<char>((ref_id >> shift) & 0xff);
    if (c >= 0x20 && c < 0x7f) s += c;  // isprint() in the C locale, as chronyc runs
  }
  return s;
}

std::string_view leap_name(uint16_t leap) {
  switch (leap) {
    case 0: return "Normal";
    case 1: return "Insert second";
    case 2: return "Delete second";
    case 3: return "Not synchronised";
  }
  return "Invalid";
}

std::string_view command_name(uint16_t c) {
  switch (c) {
    case 0: return "NULL";
    case 3: return "BURST";
    case 33: return "TRACKING";
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
