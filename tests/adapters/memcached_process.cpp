#include "memcached_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX global for posix_spawn

namespace cc::testing {
namespace {

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Binds a fresh TCP socket to 127.0.0.1:port (0 = any); returns the fd and real port.
int BindLoopback(uint16_t port, uint16_t& bound_port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in addr = Loopback(port);
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): sockets API
  auto* raw = reinterpret_cast<sockaddr*>(&addr);
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  BOOST_REQUIRE(bind(fd, raw, sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  BOOST_REQUIRE(getsockname(fd, raw, &len) == 0);
  bound_port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

uint16_t FreeLoopbackPort() {
  uint16_t port = 0;
  close(BindLoopback(0, port));
  return port;
}

bool PortAccepts(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = Loopback(port);
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): sockets API
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  close(fd);
  return ok;
}

void MemcachedProcess::Start() {
  BOOST_REQUIRE_MESSAGE(pid_ <= 0, "memcached already running");
  std::vector<std::string> args = {"memcached", "-l", "127.0.0.1", "-p", std::to_string(port_),
                                   "-U",        "0",  "-m",        "16", "-t",
                                   "1"};
  if (geteuid() == 0) args.insert(args.end(), {"-u", "root"});
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "memcached", nullptr, nullptr, argv.data(), environ);
  BOOST_REQUIRE_MESSAGE(rc == 0, "cannot spawn memcached (is it installed?)");
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!PortAccepts(port_)) {
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                          "memcached did not listen on port " << port_);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void MemcachedProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

SilentListener::SilentListener() {
  fd_ = BindLoopback(0, port_);
  BOOST_REQUIRE(listen(fd_, 16) == 0);
}

SilentListener::~SilentListener() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace cc::testing
