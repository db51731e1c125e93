// SPDX-License-Identifier: Apache-2.0
#include "ptp_wire.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

namespace vmc::ptp {
namespace {

// Offsets in struct ptp_header / struct management_msg (linuxptp 3.1.1 msg.h).
enum : size_t {
  kOffTsmt = 0,
  kOffVersion = 1,
  kOffLength = 2,
  kOffDomain = 4,
  kOffSourcePort = 20,
  kOffSequence = 30,
  kOffControl = 32,
  kOffLogInterval = 33,
  kOffTargetPort = 34,
  kOffStartingHops = 44,
  kOffHops = 45,
  kOffAction = 46,
  kOffTlv = kManagementBytes,
};

// Fixed sizes of the data after managementId (tlv.h / ddt.h, packed).
constexpr size_t kGrandmasterSettingsBytes = 8;
constexpr size_t kTimePropertiesBytes = 4;
constexpr size_t kParentDataSetBytes = 32;
constexpr size_t kPortDataSetBytes = 26;
constexpr size_t kErrorStatusFixedBytes = 8;  // errorId, managementId, reserved[4]

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return static_cast<uint32_t>(be16(p)) << 16 | be16(p + 2); }
uint64_t be64(const uint8_t* p) { return static_cast<uint64_t>(be32(p)) << 32 | be32(p + 4); }

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void s8(int8_t v) { out_.push_back(static_cast<uint8_t>(v)); }
  void u16(uint16_t v) { u8(static_cast<uint8_t>(v >> 8)); u8(static_cast<uint8_t>(v)); }
  void u32(uint32_t v) { u16(static_cast<uint16_t>(v >> 16)); u16(static_cast<uint16_t>(v)); }
  void u64(uint64_t v) { u32(static_cast<uint32_t>(v >> 32)); u32(static_cast<uint32_t>(v)); }
  void zeros(size_t n) { out_.insert(out_.end(), n, 0); }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void port(const PortIdentity& p) { bytes(p.clock_identity); u16(p.port_number); }
  void quality(const ClockQuality& q) { u8(q.clock_class); u8(q.clock_accuracy); u16(q.offset_scaled_log_variance); }
  void put16_at(size_t off, uint16_t v) {
    out_[off] = static_cast<uint8_t>(v >> 8);
    out_[off + 1] = static_cast<uint8_t>(v);
  }
  size_t size() const { return out_.size(); }

 private:
  std::vector<uint8_t>& out_;
};

// Readers below take a pointer to a region whose length the caller checked.
PortIdentity read_port(const uint8_t* p) {
  PortIdentity id;
  std::copy_n(p, 8, id.clock_identity.begin());
  id.port_number = be16(p + 8);
  return id;
}
ClockQuality read_quality(const uint8_t* p) { return {p[0], p[1], be16(p + 2)}; }

struct DataVisitor {
  Writer& w;
  void operator()(const std::monostate&) {}
  void operator()(const GrandmasterSettings& g) {
    w.quality(g.quality);
    w.u16(static_cast<uint16_t>(g.current_utc_offset));
    w.u8(g.time_flags);
    w.u8(g.time_source);
  }
  void operator()(const TimePropertiesDataSet& t) {
    w.u16(static_cast<uint16_t>(t.current_utc_offset));
    w.u8(t.flags);
    w.u8(t.time_source);
  }
  void operator()(const ParentDataSet& d) {
    w.port(d.parent_port_identity);
    w.u8(d.parent_stats);
    w.u8(0);
    w.u16(d.observed_parent_offset_scaled_log_variance);
    w.u32(static_cast<uint32_t>(d.observed_parent_clock_phase_change_rate));
    w.u8(d.grandmaster_priority1);
    w.quality(d.grandmaster_clock_quality);
    w.u8(d.grandmaster_priority2);
    w.bytes(d.grandmaster_identity);
  }
  void operator()(const PortDataSet& d) {
    w.port(d.port_identity);
    w.u8(d.port_state);
    w.s8(d.log_min_delay_req_interval);
    w.u64(static_cast<uint64_t>(d.peer_mean_path_delay));
    w.s8(d.log_announce_interval);
    w.u8(d.announce_receipt_timeout);
    w.s8(d.log_sync_interval);
    w.u8(d.delay_mechanism);
    w.s8(d.log_min_pdelay_req_interval);
    w.u8(d.version_number);
  }
  void operator()(const ErrorStatus&) { assert(!"ErrorStatus is a TLV of its own"); }
  void operator()(const Opaque& o) { w.bytes(o.bytes); }
};

Error bad(std::string msg) { return make_error(Errc::data, std::move(msg)); }

std::string id_label(uint16_t id) {
  auto n = management_id_name(id);
  return n.empty() ? fmt::format("managementId {:#06x}", id) : std::string(n);
}

// Fills m.payload (written in place: GCC 12 flags a variant moved through
// Result as maybe-uninitialized under ASan).
Status decode_data(Message& m, std::span<const uint8_t> d) {
  const uint16_t id = m.management_id;
  // A GET's data is padding (pmc sends zeros); an empty body is "no data"
  // for every action (NULL_MANAGEMENT, an ACKNOWLEDGE).
  if (m.action == Action::get || d.empty()) {
    m.payload = std::monostate{};
    return Ok{};
  }
  size_t want = data_size(id);
  if (want == 0) {
    m.payload = Opaque{{d.begin(), d.end()}};
    return Ok{};
  }
  if (d.size() != want)
    return bad(fmt::format("{} data is {} bytes, expected {}", id_label(id), d.size(), want));
  const uint8_t* p = d.data();
  switch (id) {
    case mid::grandmaster_settings_np:
      m.payload = GrandmasterSettings{read_quality(p), static_cast<int16_t>(be16(p + 4)), p[6], p[7]};
      return Ok{};
    case mid::time_properties_data_set:
      m.payload = TimePropertiesDataSet{static_cast<int16_t>(be16(p)), p[2], p[3]};
      return Ok{};
    case mid::parent_data_set: {
      ParentDataSet s;
      s.parent_port_identity = read_port(p);
      s.parent_stats = p[10];
      s.observed_parent_offset_scaled_log_variance = be16(p + 12);
      s.observed_parent_clock_phase_change_rate = static_cast<int32_t>(be32(p + 14));
      s.grandmaster_priority1 = p[18];
      s.grandmaster_clock_quality = read_quality(p + 19);
      s.grandmaster_priority2 = p[23];
      std::copy_n(p + 24, 8, s.grandmaster_identity.begin());
      m.payload = s;
      return Ok{};
    }
    case mid::port_data_set: {
      PortDataSet s;
      s.port_identity = read_port(p);
      s.port_state = p[10];
      s.log_min_delay_req_interval = static_cast<int8_t>(p[11]);
      s.peer_mean_path_delay = static_cast<int64_t>(be64(p + 12));
      s.log_announce_interval = static_cast<int8_t>(p[20]);
      s.announce_receipt_timeout = p[21];
      s.log_sync_interval = static_cast<int8_t>(p[22]);
      s.delay_mechanism = p[23];
      s.log_min_pdelay_req_interval = static_cast<int8_t>(p[24]);
      s.version_number = p[25];
      m.payload = s;
      return Ok{};
    }
    default:
      return bad(fmt::format("{} has a size but no decoder", id_label(id)));  // a bug in data_size()
  }
}

}  // namespace

size_t data_size(uint16_t id) {
  switch (id) {
    case mid::grandmaster_settings_np: return kGrandmasterSettingsBytes;
    case mid::time_properties_data_set: return kTimePropertiesBytes;
    case mid::parent_data_set: return kParentDataSetBytes;
    case mid::port_data_set: return kPortDataSetBytes;
    default: return 0;
  }
}

std::vector<uint8_t> encode_message(const Message& m) {
  std::vector<uint8_t> out;
  out.reserve(kManagementBytes + kTlvHeaderBytes + 2 + kParentDataSetBytes);
  Writer w(out);
  w.u8(static_cast<uint8_t>((m.transport_specific & 0x0f) << 4 | kMessageTypeManagement));
  w.u8(kVersionPtp);
  w.u16(0);  // messageLength, patched below
  w.u8(m.domain_number);
  w.u8(0);
  w.u16(0);  // flagField
  w.u64(0);  // correctionField
  w.u32(0);
  w.port(m.source);
  w.u16(m.sequence_id);
  w.u8(kControlManagement);
  w.s8(kLogIntervalManagement);
  w.port(m.target);
  w.u8(m.starting_boundary_hops);
  w.u8(m.boundary_hops);
  w.u8(static_cast<uint8_t>(m.action) & 0x0f);
  w.u8(0);
  assert(w.size() == kManagementBytes);

  if (const auto* e = std::get_if<ErrorStatus>(&m.payload)) {
    size_t text = std::min<size_t>(e->display_data.size(), 255);
    size_t body = kErrorStatusFixedBytes + (text ? 1 + text : 0);
    body += body & 1;  // PTPText is padded to an even length
    w.u16(static_cast<uint16_t>(TlvType::management_error_status));
    w.u16(static_cast<uint16_t>(body));
    w.u16(static_cast<uint16_t>(e->error));
    w.u16(m.management_id);
    w.u32(0);
    if (text) {
      w.u8(static_cast<uint8_t>(text));
      w.bytes({reinterpret_cast<const uint8_t*>(e->display_data.data()), text});
    }
    w.zeros(kManagementBytes + kTlvHeaderBytes + body - w.size());
  } else {
    size_t tlv_start = w.size();
    w.u16(static_cast<uint16_t>(TlvType::management));
    w.u16(0);  // lengthField, patched below
    w.u16(m.management_id);
    if (m.action == Action::get)
      w.zeros(data_size(m.management_id));
    else
      std::visit(DataVisitor{w}, m.payload);
    if ((w.size() - tlv_start) & 1) w.u8(0);  // TLVs have even lengths
    w.put16_at(tlv_start + 2, static_cast<uint16_t>(w.size() - tlv_start - kTlvHeaderBytes));
  }
  w.put16_at(kOffLength, static_cast<uint16_t>(w.size()));
  return out;
}

Result<Message> decode_message(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes)
    return bad(fmt::format("datagram is {} bytes, shorter than the {}-byte PTP header", bytes.size(), kHeaderBytes));
  const uint8_t* b = bytes.data();
  if ((b[kOffTsmt] & 0x0f) != kMessageTypeManagement)
    return bad(fmt::format("messageType is {:#x}, not MANAGEMENT ({:#x})", b[kOffTsmt] & 0x0f,
                           kMessageTypeManagement));
  if ((b[kOffVersion] & 0x0f) != kVersionPtp)
    return bad(fmt::format("versionPTP is {}, expected {}", b[kOffVersion] & 0x0f, kVersionPtp));
  size_t length = be16(b + kOffLength);
  if (length > bytes.size())
    return bad(fmt::format("messageLength is {}, but the datagram has {} bytes", length, bytes.size()));
  if (length < kManagementBytes + kTlvHeaderBytes)
    return bad(fmt::format("messageLength is {}, shorter than a management message with a TLV ({})", length,
                           kManagementBytes + kTlvHeaderBytes));

  Message m;
  m.transport_specific = static_cast<uint8_t>(b[kOffTsmt] >> 4);
  m.domain_number = b[kOffDomain];
  m.source = read_port(b + kOffSourcePort);
  m.sequence_id = be16(b + kOffSequence);
  m.target = read_port(b + kOffTargetPort);
  m.starting_boundary_hops = b[kOffStartingHops];
  m.boundary_hops = b[kOffHops];
  uint8_t action = b[kOffAction] & 0x0f;
  if (action > static_cast<uint8_t>(Action::acknowledge))
    return bad(fmt::format("actionField is {}, not GET/SET/RESPONSE/COMMAND/ACKNOWLEDGE", action));
  m.action = static_cast<Action>(action);

  uint16_t tlv_type = be16(b + kOffTlv);
  size_t tlv_length = be16(b + kOffTlv + 2);
  // IEEE 1588-2019 14.1.1: a TLV's lengthField is even. An odd one could
  // not survive re-encoding (the encoder pads), so it is refused here.
  if (tlv_length & 1) return bad(fmt::format("TLV lengthField is {}, odd (TLVs have even lengths)", tlv_length));
  size_t tlv_end = kOffTlv + kTlvHeaderBytes + tlv_length;
  if (tlv_end > length)
    return bad(fmt::format("TLV lengthField is {}, beyond messageLength {}", tlv_length, length));
  if (tlv_end != length)
    return bad(fmt::format("{} bytes after the TLV: only one TLV is expected", length - tlv_end));
  std::span<const uint8_t> body = bytes.subspan(kOffTlv + kTlvHeaderBytes, tlv_length);

  if (tlv_type == static_cast<uint16_t>(TlvType::management)) {
    if (body.size() < 2)
      return bad(fmt::format("MANAGEMENT TLV lengthField is {}, too short for a managementId", body.size()));
    m.management_id = be16(body.data());
    if (auto st = decode_data(m, body.subspan(2)); !st) return st.error();
    return m;
  }
  if (tlv_type == static_cast<uint16_t>(TlvType::management_error_status)) {
    if (body.size() < kErrorStatusFixedBytes)
      return bad(fmt::format("MANAGEMENT_ERROR_STATUS lengthField is {}, below {}", body.size(),
                             kErrorStatusFixedBytes));
    ErrorStatus e;
    e.error = static_cast<ManagementError>(be16(body.data()));
    m.management_id = be16(body.data() + 2);
    auto text = body.subspan(kErrorStatusFixedBytes);
    if (!text.empty()) {
      size_t n = text[0];
      if (1 + n > text.size())
        return bad(fmt::format("displayData length is {}, but {} bytes follow", n, text.size() - 1));
      e.display_data.assign(reinterpret_cast<const char*>(text.data() + 1), n);
    }
    m.payload = std::move(e);
    return m;
  }
  return bad(fmt::format("TLV type is {:#06x}, not MANAGEMENT or MANAGEMENT_ERROR_STATUS", tlv_type));
}

std::string to_string(const ClockIdentity& c) {
  return fmt::format("{:02x}{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}{:02x}", c[0], c[1], c[2], c[3], c[4], c[5],
                     c[6], c[7]);
}

std::string to_string(const PortIdentity& p) { return fmt::format("{}-{}", to_string(p.clock_identity), p.port_number); }

std::string_view name(Action a) {
  switch (a) {
    case Action::get: return "GET";
    case Action::set: return "SET";
    case Action::response: return "RESPONSE";
    case Action::command: return "COMMAND";
    case Action::acknowledge: return "ACKNOWLEDGE";
  }
  return "";
}

std::string_view name(ManagementError e) {
  switch (e) {
    case ManagementError::response_too_big: return "RESPONSE_TOO_BIG";
    case ManagementError::no_such_id: return "NO_SUCH_ID";
    case ManagementError::wrong_length: return "WRONG_LENGTH";
    case ManagementError::wrong_value: return "WRONG_VALUE";
    case ManagementError::not_setable: return "NOT_SETABLE";
    case ManagementError::not_supported: return "NOT_SUPPORTED";
    case ManagementError::general_error: return "GENERAL_ERROR";
  }
  return "";
}

std::string_view management_id_name(uint16_t id) {
  switch (id) {
    case mid::null_management: return "NULL_MANAGEMENT";
    case mid::default_data_set: return "DEFAULT_DATA_SET";
    case mid::parent_data_set: return "PARENT_DATA_SET";
    case mid::time_properties_data_set: return "TIME_PROPERTIES_DATA_SET";
    case mid::port_data_set: return "PORT_DATA_SET";
    case mid::grandmaster_settings_np: return "GRANDMASTER_SETTINGS_NP";
    default: return "";
  }
}

std::string describe_error(const ErrorStatus& e, uint16_t management_id) {
  auto n = name(e.error);
  std::string s = fmt::format("MANAGEMENT_ERROR_STATUS {} ({:#06x}) for {}", n.empty() ? "unknown" : n,
                              static_cast<uint16_t>(e.error), id_label(management_id));
  if (!e.display_data.empty()) s += fmt::format(": \"{}\"", e.display_data);
  return s;
}

}  // namespace vmc::ptp
