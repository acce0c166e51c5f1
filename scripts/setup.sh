#!/usr/bin/env bash
# Installs the Debian packages ChittyCharge needs (only the missing ones) and builds
# the worker into build/.  Idempotent: a second run installs nothing and rebuilds
# incrementally.
#
# Environment:
#   CHITTYCHARGE_CMAKE_ARGS   extra arguments for the cmake configure step
#   CHITTYCHARGE_SKIP_BUILD=1 install packages only
#   CHITTYCHARGE_PG_USER      the OS user of run.sh's PostgreSQL when run as root (postgres)
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly LOG_TAG=setup
readonly BUILD_DIR="$REPO/build"
readonly PACKAGES=(
  build-essential cmake ccache pkg-config libfcgi-dev spawn-fcgi multiwatch rapidjson-dev
  libcurl4-openssl-dev libssl-dev libmemcached-dev memcached libboost-test-dev libboost-context-dev
  libexpected-dev nginx openssl curl ca-certificates python3 python3-pytest wrk
  clang clang-format libclang-rt-14-dev postgresql libpq-dev
  libcairo2-dev libqpdf-dev libjpeg-dev fonts-dejavu-core poppler-utils
  chromium chromium-driver python3-selenium python3-jsonschema
)

missing_packages() {
  local pkg status
  for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [[ $status == "install ok installed" ]] || printf '%s\n' "$pkg"
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "all ${#PACKAGES[@]} packages present"
    return
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_install "${missing[@]}"
}

# scripts/run.sh's private PostgreSQL runs as this user when the stack is started as root
# (PostgreSQL refuses root). Debian's postgresql package creates it; make sure it exists.
readonly PG_USER="${CHITTYCHARGE_PG_USER:-postgres}"
ensure_pg_user() {
  if getent passwd "$PG_USER" >/dev/null; then
    return
  fi
  log "creating the system user $PG_USER (runs the local stack's PostgreSQL)"
  as_root useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER"
}

build() {
  local extra=()
  # Word splitting is intended: CHITTYCHARGE_CMAKE_ARGS is a list of flags.
  read -r -a extra <<<"${CHITTYCHARGE_CMAKE_ARGS:-}"
  log "configuring $BUILD_DIR ${extra[*]}"
  cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${extra[@]}"
  log "building with $(nproc) jobs"
  cmake --build "$BUILD_DIR" -j "$(nproc)"
}

main() {
  install_packages
  ensure_pg_user
  if [[ ${CHITTYCHARGE_SKIP_BUILD:-0} == 1 ]]; then
    log "CHITTYCHARGE_SKIP_BUILD=1: not building"
    return
  fi
  build
}

main "$@"
