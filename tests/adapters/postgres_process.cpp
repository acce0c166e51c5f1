#include "postgres_process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "ledger/socket_waiter.h"
#include "memcached_process.h"

namespace cc::testing {
namespace {

// Where Debian's postgresql-15 keeps its programs; PATH as a fallback.
std::string Program(const std::string& name) {
  for (const char* dir : {"/usr/lib/postgresql/15/bin/", "/usr/lib/postgresql/16/bin/"}) {
    const std::string path = std::string(dir) + name;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return name;
}

// fork + (as root: become `postgres`) + exec, stdout and stderr appended to `log`.
pid_t Spawn(std::vector<std::string> args, const std::string& log) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const passwd* pw = geteuid() == 0 ? getpwnam("postgres") : nullptr;
  BOOST_REQUIRE_MESSAGE(geteuid() != 0 || pw != nullptr,
                        "running as root needs the `postgres` user (apt-get install postgresql)");
  const uid_t uid = pw != nullptr ? pw->pw_uid : 0;
  const gid_t gid = pw != nullptr ? pw->pw_gid : 0;
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  BOOST_REQUIRE(log_fd >= 0);
  const pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {  // only async-signal-safe calls from here
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    if (pw != nullptr && (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) {
      _exit(126);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  return pid;
}

}  // namespace

PostgresCluster::PostgresCluster() : port_(FreeLoopbackPort()) {
  std::string templ = "/tmp/cc-pg-XXXXXX";
  BOOST_REQUIRE(mkdtemp(templ.data()) != nullptr);
  dir_ = templ;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    BOOST_REQUIRE_MESSAGE(pw != nullptr, "no `postgres` user");
    BOOST_REQUIRE(chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) == 0);
  }
  const pid_t pid = Spawn({Program("initdb"), "-D", dir_ + "/data", "-U", "postgres",
                           "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C"},
                          dir_ + "/initdb.log");
  int status = 0;
  BOOST_REQUIRE(waitpid(pid, &status, 0) == pid);
  BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                        "initdb failed; see " << dir_ << "/initdb.log");
}

PostgresCluster::~PostgresCluster() {
  if (pid_ > 0) {
    kill(pid_, SIGQUIT);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void PostgresCluster::Start() {
  BOOST_REQUIRE_MESSAGE(pid_ <= 0, "postgres already running");
  // fsync=off is safe for tests that crash the server (SIGQUIT): the OS keeps what was
  // written. synchronous_commit must stay on, or a commit acknowledged just before the
  // crash would be lost with the WAL buffers.
  pid_ = Spawn(
      {Program("postgres"), "-D", dir_ + "/data", "-p", std::to_string(port_), "-c",
       "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir_, "-c", "fsync=off",
       "-c", "full_page_writes=off", "-c", "max_connections=80", "-c", "shared_buffers=16MB"},
      dir_ + "/postgres.log");
  ledger::PollSocketWaiter waiter;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    if (ledger::PgConnection::Connect(Conninfo("postgres"), waiter, 1000)) return;
    int status = 0;
    BOOST_REQUIRE_MESSAGE(waitpid(pid_, &status, WNOHANG) == 0,
                          "postgres exited; see " << dir_ << "/postgres.log");
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                          "postgres did not start; see " << dir_ << "/postgres.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void PostgresCluster::Stop(int signal) {
  if (pid_ <= 0) return;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string PostgresCluster::Conninfo(const std::string& database, const std::string& user) const {
  return "host=" + dir_ + " port=" + std::to_string(port_) + " dbname=" + database +
         " user=" + user;
}

ledger::PgRows PostgresCluster::Sql(const std::string& database, const std::string& sql) const {
  ledger::PollSocketWaiter waiter;
  auto conn = ledger::PgConnection::Connect(Conninfo(database), waiter, 10000);
  BOOST_REQUIRE_MESSAGE(conn.has_value(), "connect: " << conn.error().message);
  auto rows = (*conn)->ExecScript(sql, 60000);
  BOOST_REQUIRE_MESSAGE(rows.has_value(), "exec: " << rows.error().message);
  BOOST_REQUIRE_MESSAGE(rows->ok(), sql << ": " << rows->message);
  return *rows;
}

std::string PostgresCluster::CreateDatabase(const std::string& template_db) const {
  static std::atomic<int> counter{0};
  const std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  Sql("postgres",
      "CREATE DATABASE " + name + (template_db.empty() ? "" : " TEMPLATE " + template_db));
  return name;
}

PostgresCluster& SharedCluster() {
  static std::unique_ptr<PostgresCluster> cluster;
  if (!cluster) {
    cluster = std::make_unique<PostgresCluster>();
    cluster->Start();
  }
  return *cluster;
}

}  // namespace cc::testing
