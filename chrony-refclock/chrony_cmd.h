// SPDX-License-Identifier: Apache-2.0
#pragma once
// A client of chronyd's command socket for the three commands vmclockd
// needs after a disruption: RESET_SOURCES, BURST and MAKESTEP, and
// TRACKING to see what chronyd made of the samples. chronyd
// replies to the sender's address, so the client binds its own socket in
// a directory it is given (chronyc uses /run/chrony). The wire format is
// in chrony_cmd_wire.h.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chrony_cmd_wire.h"
#include "fd.h"
#include "log_sink.h"
#include "result.h"

namespace vmc::chrony {

struct CmdOptions {
  std::string socket_path = "/run/chrony/chronyd.sock";
  std::string client_dir = "/run/vmclockd/sockets";  // must be writable by us, reachable by chronyd
  // AWS ClockBound resets with up to 30 tries 5 ms apart: a reply to any
  // earlier try of the same sequence is accepted while later tries wait.
  unsigned tries = 30;
  std::chrono::milliseconds retry_interval{5};
  LogFn log;
};

struct CmdOutcome {
  cmd::Reply reply;
  unsigned tries = 0;  // requests sent before the reply came
  std::vector<uint8_t> bytes;  // the reply as received, for its payload (cmd::decode_tracking)
};

class CmdClient {
 public:
  // Binds <client_dir>/vmclockd-cmd.<pid>.<n>.sock (removed again by the
  // destructor). Does not need chronyd to be running.
  static Result<std::unique_ptr<CmdClient>> open(CmdOptions opts);
  ~CmdClient();
  CmdClient(const CmdClient&) = delete;
  CmdClient& operator=(const CmdClient&) = delete;

  // Sends with a fresh sequence and waits for the matching reply whatever
  // its status. Errc::temp_fail when no reply came within tries*interval.
  Result<CmdOutcome> request(cmd::Request r);

  // Each Errc::unavailable when chronyd answered with a non-zero status,
  // naming it ("BURST: chronyd answered NOSUCHSOURCE (4)").
  Status reset_sources();
  Status burst(int good = 4, int total = 8);
  // BURST with chronyd's answer as it came: NOSUCHSOURCE (no NTP source,
  // only refclocks) is an answer, not a failure, for a caller that bursts
  // after every reset. Errors as request()'s, Errc::usage for bad counts.
  Result<uint16_t> burst_status(int good = 4, int total = 8);
  Status make_step();
  Status ping();  // REQ_NULL: is chronyd there and willing to talk to us
  // REQ_TRACKING, as `chronyc tracking`: Errc::unavailable naming the
  // status when chronyd refuses, Errc::data when its RPY_TRACKING is
  // malformed, request()'s errors otherwise.
  Result<cmd::Tracking> tracking();

  const std::string& bound_path() const { return bound_; }

 private:
  CmdClient(CmdOptions opts, Fd fd, std::string bound, uint32_t seq)
      : opts_(std::move(opts)), fd_(std::move(fd)), bound_(std::move(bound)), seq_(seq) {}
  Result<CmdOutcome> expect_success(cmd::Request r);
  CmdOptions opts_;
  Fd fd_;
  std::string bound_;
  uint32_t seq_;
};

}  // namespace vmc::chrony
