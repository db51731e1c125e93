// SPDX-License-Identifier: Apache-2.0
#pragma once
// PTP management messages as ptp4l 3.1.1 exchanges them on its Unix socket.
// Layouts copied field by field from linuxptp 3.1.1 msg.h (struct
// ptp_header, struct management_msg), tlv.h (struct management_tlv,
// struct management_error_status) and ddt.h (the data sets), checked against
// datagrams captured from `pmc -u` (tests/ptp-captures/). All fields are
// big-endian; encode_message() and decode_message() are the only places that
// know the byte layout and the byte order.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "result.h"

namespace vmc::ptp {

inline constexpr size_t kHeaderBytes = 34;          // struct ptp_header
inline constexpr size_t kManagementBytes = 48;      // struct management_msg, before the TLV
inline constexpr size_t kTlvHeaderBytes = 4;        // type, length
inline constexpr size_t kMaxMessageBytes = 1500;    // linuxptp's message buffer limit
inline constexpr uint8_t kMessageTypeManagement = 0x0D;
inline constexpr uint8_t kVersionPtp = 2;
inline constexpr uint8_t kControlManagement = 4;    // controlField, obsolete but still sent
inline constexpr int8_t kLogIntervalManagement = 0x7f;

enum class Action : uint8_t { get = 0, set = 1, response = 2, command = 3, acknowledge = 4 };

enum class TlvType : uint16_t { management = 0x0001, management_error_status = 0x0002 };

// The managementIds this client speaks; others decode as Opaque.
namespace mid {
inline constexpr uint16_t null_management = 0x0000;
inline constexpr uint16_t default_data_set = 0x2000;
inline constexpr uint16_t parent_data_set = 0x2002;
inline constexpr uint16_t time_properties_data_set = 0x2003;
inline constexpr uint16_t port_data_set = 0x2004;
inline constexpr uint16_t grandmaster_settings_np = 0xC001;
}  // namespace mid

enum class ManagementError : uint16_t {
  response_too_big = 0x0001,
  no_such_id = 0x0002,
  wrong_length = 0x0003,
  wrong_value = 0x0004,
  not_setable = 0x0005,
  not_supported = 0x0006,
  general_error = 0xFFFE,
};

// timePropertiesDS flags as GRANDMASTER_SETTINGS_NP and TIME_PROPERTIES_DATA_SET carry them.
namespace time_flag {
inline constexpr uint8_t leap_61 = 0x01;
inline constexpr uint8_t leap_59 = 0x02;
inline constexpr uint8_t utc_off_valid = 0x04;
inline constexpr uint8_t ptp_timescale = 0x08;
inline constexpr uint8_t time_traceable = 0x10;
inline constexpr uint8_t freq_traceable = 0x20;
}  // namespace time_flag

using ClockIdentity = std::array<uint8_t, 8>;

struct PortIdentity {
  ClockIdentity clock_identity{};
  uint16_t port_number = 0;
  bool operator==(const PortIdentity&) const = default;
  // targetPortIdentity "all ones": every clock, every port.
  static constexpr PortIdentity wildcard() {
    return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0xffff};
  }
};

// "cac1c4.fffe.2d5dc6" and "cac1c4.fffe.2d5dc6-1", as pmc prints them.
std::string to_string(const ClockIdentity& c);
std::string to_string(const PortIdentity& p);

struct ClockQuality {
  uint8_t clock_class = 248;
  uint8_t clock_accuracy = 0xFE;
  uint16_t offset_scaled_log_variance = 0xFFFF;
  bool operator==(const ClockQuality&) const = default;
};

// GRANDMASTER_SETTINGS_NP data (linuxptp tlv.h struct grandmaster_settings_np).
// The defaults are what ptp4l 3.1.1 announces before anyone sets them.
struct GrandmasterSettings {
  ClockQuality quality{};
  int16_t current_utc_offset = 37;
  uint8_t time_flags = 0;
  uint8_t time_source = 0xA0;
  bool operator==(const GrandmasterSettings&) const = default;
};

// TIME_PROPERTIES_DATA_SET data (ddt.h struct timePropertiesDS).
struct TimePropertiesDataSet {
  int16_t current_utc_offset = 0;
  uint8_t flags = 0;
  uint8_t time_source = 0;
  bool operator==(const TimePropertiesDataSet&) const = default;
};

// PARENT_DATA_SET data (ddt.h struct parentDS).
struct ParentDataSet {
  PortIdentity parent_port_identity{};
  uint8_t parent_stats = 0;
  uint16_t observed_parent_offset_scaled_log_variance = 0;
  int32_t observed_parent_clock_phase_change_rate = 0;
  uint8_t grandmaster_priority1 = 0;
  ClockQuality grandmaster_clock_quality{};
  uint8_t grandmaster_priority2 = 0;
  ClockIdentity grandmaster_identity{};
  bool operator==(const ParentDataSet&) const = default;
};

// PORT_DATA_SET data (ddt.h struct portDS).
struct PortDataSet {
  PortIdentity port_identity{};
  uint8_t port_state = 0;
  int8_t log_min_delay_req_interval = 0;
  int64_t peer_mean_path_delay = 0;  // TimeInterval, ns * 2^16
  int8_t log_announce_interval = 0;
  uint8_t announce_receipt_timeout = 0;
  int8_t log_sync_interval = 0;
  uint8_t delay_mechanism = 0;
  int8_t log_min_pdelay_req_interval = 0;
  uint8_t version_number = 0;
  bool operator==(const PortDataSet&) const = default;
};

// MANAGEMENT_ERROR_STATUS: ptp4l 3.1.1 sends no displayData.
struct ErrorStatus {
  ManagementError error = ManagementError::general_error;
  std::string display_data;
  bool operator==(const ErrorStatus&) const = default;
};

// Data of a managementId this module does not model.
struct Opaque {
  std::vector<uint8_t> bytes;
  bool operator==(const Opaque&) const = default;
};

// monostate: no data (a GET, or NULL_MANAGEMENT).
using Payload = std::variant<std::monostate, GrandmasterSettings, TimePropertiesDataSet, ParentDataSet,
                             PortDataSet, ErrorStatus, Opaque>;

struct Message {
  uint8_t transport_specific = 0;
  uint8_t domain_number = 0;
  uint16_t sequence_id = 0;
  PortIdentity source{};
  PortIdentity target = PortIdentity::wildcard();
  uint8_t starting_boundary_hops = 0;
  uint8_t boundary_hops = 0;  // 0: ptp4l answers itself and forwards nothing
  Action action = Action::get;
  uint16_t management_id = mid::null_management;  // for an ErrorStatus, the id it refers to
  Payload payload{};
  bool operator==(const Message&) const = default;
  bool is_error() const { return std::holds_alternative<ErrorStatus>(payload); }
};

// Bytes of the data a managementId carries, 0 if unknown. A GET carries
// that many zero bytes, as pmc sends it.
size_t data_size(uint16_t management_id);

// Encodes one message. A GET's payload is ignored (zeros of data_size()).
std::vector<uint8_t> encode_message(const Message& m);

// Decodes exactly one management message from a datagram. Every length is
// checked before the field behind it is read; arbitrary bytes give an error
// (Errc::data) naming the field, never undefined behaviour.
Result<Message> decode_message(std::span<const uint8_t> bytes);

std::string_view name(Action a);
std::string_view name(ManagementError e);        // "WRONG_VALUE"; "" if unknown
std::string_view management_id_name(uint16_t id);  // "GRANDMASTER_SETTINGS_NP"; "" if unknown
// "WRONG_VALUE (0x0004)" and "0x2005" for values without a name.
std::string describe_error(const ErrorStatus& e, uint16_t management_id);

}  // namespace vmc::ptp
