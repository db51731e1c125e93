#include "daemon_ptp4l.h"

#include <fmt/format.h>

namespace vmc {

// Replaced by the adapter to ptp4l-plugin/ once its updater lands.
Result<std::unique_ptr<Ptp4lFeed>> Ptp4lFeed::create(const Config&) {
  return make_error(Errc::config, "[ptp4l]: ptp4l support is not built into this vmclockd yet");
}

}  // namespace vmc
