#!/usr/bin/env bash
# Checks that every C and C++ file in the repository is formatted as .clang-format says
# (clang-format 14, Google style at 100 columns). Lists the files that are not and exits
# 1; `bash scripts/check-format.sh --fix` formats them in place instead.
set -euo pipefail

LOG_TAG=check-format
DIE_STATUS=2
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

FORMAT="$(command -v clang-format-14 || command -v clang-format || true)"
[[ -n $FORMAT ]] || die "clang-format is missing (bash scripts/setup.sh installs it)"

mapfile -t FILES < <(git ls-files '*.c' '*.cpp' '*.h')
if [[ ${1:-} == --fix ]]; then
  "$FORMAT" -i "${FILES[@]}"
  log "formatted ${#FILES[@]} files"
  exit 0
fi

BAD=()
for file in "${FILES[@]}"; do
  "$FORMAT" --dry-run --Werror "$file" >/dev/null 2>&1 || BAD+=("$file")
done
if ((${#BAD[@]} > 0)); then
  log "not formatted (bash scripts/check-format.sh --fix):"
  printf '  %s\n' "${BAD[@]}"
  exit 1
fi
log "${#FILES[@]} files formatted"
