// MemcachedProcess: a real memcached child on a loopback port, for adapter tests.
//
// Start() spawns `memcached -l 127.0.0.1 -p PORT -U 0` (plus `-u root` when running as
// root, which memcached requires) and waits until the port accepts connections; Kill()
// stops it with SIGKILL (a crash, not a clean shutdown) and reaps it. The destructor
// always kills the child. Start() may be called again after Kill() to bring the server
// back on the same port. Not thread-safe; failures abort the test (BOOST_REQUIRE).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cc::testing {

// A loopback TCP port that was free a moment ago (bound to port 0, then closed).
uint16_t FreeLoopbackPort();

// True when something accepts TCP connections on 127.0.0.1:port.
bool PortAccepts(uint16_t port);

class MemcachedProcess {
 public:
  // extra_args are appended to the command line (e.g. {"-I", "64k"}).
  explicit MemcachedProcess(uint16_t port, std::vector<std::string> extra_args = {})
      : port_(port), extra_args_(std::move(extra_args)) {}
  MemcachedProcess(const MemcachedProcess&) = delete;
  MemcachedProcess& operator=(const MemcachedProcess&) = delete;
  ~MemcachedProcess() { Kill(); }

  void Start();
  void Kill();
  [[nodiscard]] uint16_t port() const { return port_; }
  [[nodiscard]] bool running() const { return pid_ > 0; }

 private:
  uint16_t port_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
};

// A socket that listens on a loopback port and never accepts or answers: connections
// complete in the kernel, requests go unanswered (a hung server).
class SilentListener {
 public:
  SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  ~SilentListener();
  [[nodiscard]] uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace cc::testing
