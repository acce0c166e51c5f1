// The notifications endpoint (docs/api.md): GET /api/notifications?status=failed lists the
// calling client's notifications that failed at least once and are not delivered, newest
// first, from the ledger (a down ledger ⇒ 503, as GET /api/holds/:id/events). For the
// routes table only (gateway/routes.cpp).
#pragma once

#include "http/handler.h"
#include "http/http.h"

namespace cc::notify {

http::Response ListNotifications(const http::Deps& deps, const http::Caller& caller,
                                 const http::Request& request);

}  // namespace cc::notify
