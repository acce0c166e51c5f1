// PostgresCluster: a private PostgreSQL cluster for adapter tests.
//
// The constructor runs initdb (trust authentication, superuser `postgres`) into a fresh
// directory under /tmp; Start() runs `postgres` on a Unix socket in that directory and on
// a free loopback port, and waits until it accepts connections; Stop(signal) sends the
// signal to the postmaster's PID (SIGINT: fast shutdown; SIGQUIT: immediate, like a
// crash) and reaps it. Start() may be called again after Stop(). PostgreSQL refuses to run
// as root, so when the tests run as root both programs run as the `postgres` system user
// (created by Debian's package), with the directory chowned to it. The destructor stops
// the server and removes the directory. Not thread-safe; failures abort the test
// (BOOST_REQUIRE). SharedCluster() is one cluster for the whole test binary, started on
// first use; tests that stop their server make their own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "ledger/pg_connection.h"

namespace cc::testing {

class PostgresCluster {
 public:
  PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;
  ~PostgresCluster();

  void Start();
  void Stop(int signal);
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] uint16_t port() const { return port_; }

  // A libpq conninfo for `database` as `user`, over the Unix socket.
  [[nodiscard]] std::string Conninfo(const std::string& database,
                                     const std::string& user = "postgres") const;
  // Runs SQL as the superuser; the statement must succeed.
  ledger::PgRows Sql(const std::string& database, const std::string& sql) const;
  // A new, empty database with a unique name (optionally a copy of `template_db`).
  std::string CreateDatabase(const std::string& template_db = "") const;

 private:
  std::string dir_;
  uint16_t port_;
  pid_t pid_ = -1;
};

PostgresCluster& SharedCluster();

}  // namespace cc::testing
