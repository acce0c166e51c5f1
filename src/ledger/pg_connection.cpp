#include "ledger/pg_connection.h"

#include <libpq-fe.h>

#include <chrono>
#include <utility>

namespace cc::ledger {
namespace {

using Clock = std::chrono::steady_clock;

tl::unexpected<Error> Unavailable(const std::string& why) {
  return Fail(ErrorKind::kUnavailable, "service_unavailable", "ledger unavailable: " + why);
}

// libpq's messages end with a newline; logs want one line.
std::string OneLine(const char* text) {
  std::string s = text == nullptr ? "" : text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return s;
}

// Milliseconds left before deadline (≥ 0), or -1 without one.
int Left(std::optional<Clock::time_point> deadline) {
  if (!deadline) return -1;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

std::optional<Clock::time_point> Deadline(int timeout_ms) {
  if (timeout_ms < 0) return std::nullopt;
  return Clock::now() + std::chrono::milliseconds(timeout_ms);
}

void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

// The server ended the session (shutdown, crash, admin) rather than refused a statement.
bool EndsSession(const std::string& sqlstate) {
  return sqlstate.starts_with("08") || sqlstate.starts_with("57P");
}

void Take(PGresult* result, PgRows& out) {
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_TUPLES_OK || status == PGRES_SINGLE_TUPLE) {
    out.rows.clear();
    const int n_rows = PQntuples(result);
    const int n_cols = PQnfields(result);
    for (int r = 0; r < n_rows; ++r) {
      std::vector<PgValue> row;
      for (int c = 0; c < n_cols; ++c) {
        if (PQgetisnull(result, r, c) != 0) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(std::string(PQgetvalue(result, r, c),
                                       static_cast<size_t>(PQgetlength(result, r, c))));
        }
      }
      out.rows.push_back(std::move(row));
    }
    return;
  }
  if (status == PGRES_COMMAND_OK || status == PGRES_EMPTY_QUERY || !out.sqlstate.empty()) return;
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
  out.sqlstate = state != nullptr ? state : "08006";  // no code: libpq's own (connection) error
  out.constraint = constraint != nullptr ? constraint : "";
  out.message = OneLine(PQresultErrorMessage(result));
}

}  // namespace

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& conninfo,
                                                            SocketWaiter& waiter, int timeout_ms) {
  PGconn* raw = PQconnectStart(conninfo.c_str());
  if (raw == nullptr) return Unavailable("cannot allocate a connection");
  std::unique_ptr<PgConnection> conn(new PgConnection(raw, waiter));
  if (PQstatus(raw) == CONNECTION_BAD) return conn->Lost(OneLine(PQerrorMessage(raw)));
  PQsetNoticeProcessor(raw, IgnoreNotice, nullptr);
  const auto deadline = Deadline(timeout_ms);
  PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
  while (polling != PGRES_POLLING_OK) {
    if (polling == PGRES_POLLING_FAILED) return conn->Lost(OneLine(PQerrorMessage(raw)));
    const int fd = PQsocket(raw);  // may change while libpq tries addresses
    if (fd < 0) return conn->Lost("no socket");
    if (auto ready = waiter.Wait(fd, polling == PGRES_POLLING_WRITING, Left(deadline)); !ready) {
      return conn->Lost("connecting: " + ready.error().message);
    }
    polling = PQconnectPoll(raw);
  }
  if (PQsetnonblocking(raw, 1) != 0) return conn->Lost(OneLine(PQerrorMessage(raw)));
  return conn;
}

PgConnection::~PgConnection() { PQfinish(conn_); }

tl::unexpected<Error> PgConnection::Lost(const std::string& why) {
  broken_ = true;
  return Unavailable(why);
}

Result<PgRows> PgConnection::Prepare(const std::string& name, const std::string& sql,
                                     int timeout_ms) {
  if (broken_) return Unavailable("connection lost earlier");
  if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) == 0) {
    return Lost(OneLine(PQerrorMessage(conn_)));
  }
  return Finish(timeout_ms);
}

Result<PgRows> PgConnection::ExecPrepared(const std::string& name,
                                          const std::vector<PgValue>& params, int timeout_ms) {
  if (broken_) return Unavailable("connection lost earlier");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgValue& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(),
                          nullptr, nullptr, 0) == 0) {
    return Lost(OneLine(PQerrorMessage(conn_)));
  }
  return Finish(timeout_ms);
}

Result<PgRows> PgConnection::ExecParams(const std::string& sql, const std::vector<PgValue>& params,
                                        int timeout_ms) {
  if (broken_) return Unavailable("connection lost earlier");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgValue& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                        nullptr, nullptr, 0) == 0) {
    return Lost(OneLine(PQerrorMessage(conn_)));
  }
  return Finish(timeout_ms);
}

Result<PgRows> PgConnection::ExecScript(const std::string& sql, int timeout_ms) {
  if (broken_) return Unavailable("connection lost earlier");
  if (PQsendQuery(conn_, sql.c_str()) == 0) return Lost(OneLine(PQerrorMessage(conn_)));
  return Finish(timeout_ms);
}

Status PgConnection::WaitSocket(bool for_write, int timeout_ms) {
  const int fd = PQsocket(conn_);
  if (fd < 0) return Unavailable("the connection has no socket");
  return waiter_.Wait(fd, for_write, timeout_ms);
}

Result<PgRows> PgConnection::Finish(int timeout_ms) {
  const auto deadline = Deadline(timeout_ms);
  if (auto sent = Flush(Left(deadline)); !sent) return Fail(sent.error());
  return Collect(Left(deadline));
}

Status PgConnection::Flush(int timeout_ms) {
  const auto deadline = Deadline(timeout_ms);
  for (;;) {  // send what the non-blocking connection could not write at once
    const int flushed = PQflush(conn_);
    if (flushed == 0) return Ok();
    if (flushed < 0) return Lost(OneLine(PQerrorMessage(conn_)));
    if (auto ready = WaitSocket(true, Left(deadline)); !ready) return Lost(ready.error().message);
    if (PQconsumeInput(conn_) == 0) return Lost(OneLine(PQerrorMessage(conn_)));
  }
}

Result<PgRows> PgConnection::Collect(int timeout_ms) {
  const auto deadline = Deadline(timeout_ms);
  PgRows out;
  for (;;) {
    if (PQconsumeInput(conn_) == 0) return Lost(OneLine(PQerrorMessage(conn_)));
    while (PQisBusy(conn_) == 0) {
      PGresult* result = PQgetResult(conn_);
      if (result == nullptr) {  // the query is complete
        if (PQstatus(conn_) == CONNECTION_BAD || EndsSession(out.sqlstate)) {
          return Lost(out.message.empty() ? OneLine(PQerrorMessage(conn_)) : out.message);
        }
        return out;
      }
      Take(result, out);
      PQclear(result);
    }
    if (auto ready = WaitSocket(false, Left(deadline)); !ready) return Lost(ready.error().message);
  }
}

}  // namespace cc::ledger
