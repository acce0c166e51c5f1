// PgConnection: one PostgreSQL connection driven by libpq's asynchronous API — the only
// code that sees libpq (pg_connection.cpp includes <libpq-fe.h>; nothing else does).
//
// Connect() uses PQconnectStart/PQconnectPoll; queries go out with PQsendPrepare /
// PQsendQueryPrepared / PQsendQueryParams / PQsendQuery on a non-blocking connection
// (PQsetnonblocking, PQflush) and come back through PQconsumeInput / PQisBusy /
// PQgetResult. Whenever libpq needs the socket, the connection asks its SocketWaiter, so
// on the worker's event loop a query parks its fiber instead of blocking the thread.
// (Host names in the conninfo are resolved synchronously by PQconnectStart: use a socket
// path or an address.) Parameters are always sent separately from the SQL, as text.
//
// Failure: a Result error means the connection is gone (kUnavailable, code
// "service_unavailable": refused, lost, or no answer within timeout_ms — the deadline
// covers the whole call); the connection is then broken() for good and every later call
// fails at once: make a new one. A statement the server refused is not an error of the
// call: it comes back as PgRows with `sqlstate` set, and the connection stays usable.
// Not thread-safe: one call at a time, from one thread or fiber.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "ledger/socket_waiter.h"

struct pg_conn;  // libpq's PGconn

namespace cc::ledger {

using PgValue = std::optional<std::string>;  // nullopt = SQL NULL

struct PgRows {
  std::vector<std::vector<PgValue>> rows;  // of the last result that returned rows
  std::string sqlstate;    // empty: every statement succeeded; else the first error's code
  std::string constraint;  // the constraint an integrity error (class 23) names
  std::string message;     // the server's message for that error (for logs)
  [[nodiscard]] bool ok() const { return sqlstate.empty(); }
};

class PgConnection {
 public:
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& conninfo,
                                                       SocketWaiter& waiter, int timeout_ms);
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  PgConnection(PgConnection&&) = delete;
  PgConnection& operator=(PgConnection&&) = delete;
  ~PgConnection();

  // Prepares `sql` as the named statement of this connection.
  Result<PgRows> Prepare(const std::string& name, const std::string& sql, int timeout_ms);
  Result<PgRows> ExecPrepared(const std::string& name, const std::vector<PgValue>& params,
                              int timeout_ms);
  // One statement with parameters, unprepared (tools, migrations).
  Result<PgRows> ExecParams(const std::string& sql, const std::vector<PgValue>& params,
                            int timeout_ms);
  // Several statements, no parameters (a migration file); stops at the first error.
  Result<PgRows> ExecScript(const std::string& sql, int timeout_ms);

  [[nodiscard]] bool broken() const { return broken_; }

 private:
  PgConnection(pg_conn* conn, SocketWaiter& waiter) : conn_(conn), waiter_(waiter) {}
  // Sends what libpq buffered, then collects every result of the query in flight.
  Result<PgRows> Finish(int timeout_ms);
  Status Flush(int timeout_ms);
  Result<PgRows> Collect(int timeout_ms);
  Status WaitSocket(bool for_write, int timeout_ms);
  // Marks the connection broken; the error to return.
  tl::unexpected<Error> Lost(const std::string& why);

  pg_conn* conn_;
  SocketWaiter& waiter_;
  bool broken_ = false;
};

}  // namespace cc::ledger
