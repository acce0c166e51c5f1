#!/usr/bin/env bash
# Checks that every C and C++ file in the repository is formatted as .clang-format says
# (clang-format 14, Google style at 100 columns). Lists the files that are not and exits
# 1; `bash scripts/check-format.sh --fix` formats them in place instead.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

FORMAT="$(command -v clang-format-14 || command -v clang-format || true)"
[[ -n $FORMAT ]] || { echo "check-format: clang-format is missing (apt-get install clang-format)" >&2; exit 2; }

mapfile -t FILES < <(git ls-files '*.c' '*.cpp' '*.h')
if [[ ${1:-} == --fix ]]; then
  "$FORMAT" -i "${FILES[@]}"
  echo "check-format: formatted ${#FILES[@]} files"
  exit 0
fi

BAD=()
for file in "${FILES[@]}"; do
  "$FORMAT" --dry-run --Werror "$file" >/dev/null 2>&1 || BAD+=("$file")
done
if ((${#BAD[@]} > 0)); then
  printf 'check-format: not formatted (bash scripts/check-format.sh --fix):\n'
  printf '  %s\n' "${BAD[@]}"
  exit 1
fi
echo "check-format: ${#FILES[@]} files formatted"
