// SPDX-License-Identifier: Apache-2.0
#pragma once
// A management client of ptp4l over its Unix datagram socket, like
// `pmc -u -b 0`: one request at a time, replies matched by sequenceId,
// every wait bounded. ptp4l replies to the address the request came from,
// so the client binds one: a path, or (default) an abstract name the kernel
// picks, which needs no directory and leaves no file behind.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "fd.h"
#include "ptp_wire.h"
#include "result.h"

namespace vmc::ptp {

struct ClientOptions {
  std::string server_path = "/var/run/ptp4l";  // ptp4l's uds_address
  std::string local_path;                      // "" = kernel-chosen abstract address
  uint8_t domain_number = 0;
};

class PmcClient {
 public:
  // Creates and binds the socket. ptp4l need not be running.
  static Result<PmcClient> open(ClientOptions opts);

  // Sends one request and waits at most `timeout` for the reply with its
  // sequenceId; stale replies to earlier requests are dropped. Errors:
  // no_input when ptp4l is not running (no socket, or nobody bound to it),
  // temp_fail when it is silent or its queue is full, data for a malformed
  // reply, unavailable for a MANAGEMENT_ERROR_STATUS (the message names
  // the error), os for anything else.
  Result<Message> request(Action action, uint16_t management_id, const Payload& payload,
                          std::chrono::milliseconds timeout);

  Result<GrandmasterSettings> get_grandmaster_settings(std::chrono::milliseconds timeout);
  // Returns the settings ptp4l echoes back, which are the ones it now uses.
  Result<GrandmasterSettings> set_grandmaster_settings(const GrandmasterSettings& s,
                                                       std::chrono::milliseconds timeout);
  Result<TimePropertiesDataSet> get_time_properties(std::chrono::milliseconds timeout);
  Result<ParentDataSet> get_parent_data_set(std::chrono::milliseconds timeout);
  Result<PortDataSet> get_port_data_set(std::chrono::milliseconds timeout);

  // Who answered last: ptp4l's clock identity changes only with its config,
  // so a restart shows up as reset settings, not as a new identity.
  const PortIdentity& last_responder() const { return responder_; }
  const std::string& local_address() const { return local_name_; }
  const ClientOptions& options() const { return opts_; }

  PmcClient(PmcClient&&) noexcept = default;
  PmcClient& operator=(PmcClient&&) noexcept = default;
  ~PmcClient();

 private:
  PmcClient() = default;
  template <class T>
  Result<T> typed(Action action, uint16_t id, const Payload& payload, std::chrono::milliseconds timeout);

  ClientOptions opts_;
  Fd fd_;
  std::string local_name_;  // "@..." for an abstract address
  bool unlink_on_close_ = false;
  ino_t bound_ino_ = 0;  // the socket file bind() made, to remove only that one
  dev_t bound_dev_ = 0;
  uint16_t next_sequence_ = 0;
  PortIdentity self_{};
  PortIdentity responder_{};
};

}  // namespace vmc::ptp
