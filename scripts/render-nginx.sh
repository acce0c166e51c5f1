#!/usr/bin/env bash
# Renders ChittyCharge's nginx templates: the local stack's nginx.conf (scripts/run.sh)
# and the production site (docs/deploy.md). The one implementation of the CORS origin
# map and of the template syntax; installed as /usr/share/chittycharge/render-nginx.sh.
#
# Usage:
#   render-nginx.sh [-o OUT] [-e ENV_FILE] [-D NAME=VALUE]... TEMPLATE
#   render-nginx.sh --check-origins      validate ALLOWED_ORIGINS only (exit status)
#
#   -o OUT       write OUT atomically (default: stdout)
#   -e ENV_FILE  take ALLOWED_ORIGINS from this file (the service's EnvironmentFile,
#                KEY=VALUE lines); without -e it comes from the environment. Unset in
#                both ⇒ the contract's default list. Nothing else is read from the file.
#   -D NAME=VALUE  value of the placeholder @NAME@
#
# Template syntax:
#   @NAME@          replaced by the -D value, else by the default a "# @param NAME=default"
#                   line declares ("# @param NAME" alone: required, no default). The first
#                   declaration wins, so a top-level template can override its includes.
#   @INCLUDE f@     on a line of its own: file f (relative to the including template),
#                   rendered the same way and indented like the @INCLUDE line.
#   @CORS_ORIGINS@  map entries, one per allowed origin (see cors_map_entries).
# Any placeholder left without a value, a value with a line break, or a bad origin is an
# error: nothing is written and the exit status is 1.
set -euo pipefail

readonly DEFAULT_ORIGINS='https://chitty.cc,https://*.chitty.cc,https://furnished-condos.com,http://localhost:*'
readonly PLACEHOLDER_RE='@[A-Z][A-Z0-9_]*@'

declare -A VALUES=()    # -D values
declare -A DEFAULTS=()  # from "# @param" lines
declare -A DECLARED=()
EXPANDED=""

die() {
  printf 'render-nginx: ERROR: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------- CORS

# Prints ALLOWED_ORIGINS as the service sees it: from ENV_FILE when given (last
# assignment wins; surrounding quotes removed), else the environment, else the default.
allowed_origins() {
  local env_file=$1 line value="" found=0
  if [[ -n $env_file ]]; then
    [[ -r $env_file ]] || die "cannot read $env_file"
    while IFS= read -r line || [[ -n $line ]]; do
      if [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?ALLOWED_ORIGINS=(.*)$ ]]; then
        value="${BASH_REMATCH[2]}"
        value="${value%"${value##*[![:space:]]}"}"
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value="${BASH_REMATCH[1]}"; fi
        found=1
      fi
    done <"$env_file"
  elif [[ -n ${ALLOWED_ORIGINS+set} ]]; then
    value="$ALLOWED_ORIGINS"
    found=1
  fi
  if ((found == 0)) || [[ -z ${value//[[:space:],]/} ]]; then value="$DEFAULT_ORIGINS"; fi
  printf '%s' "$value"
}

# Map entries for `map $http_origin ...`: exact origins, https://*.domain (one or more
# labels, not the bare domain) and a :* port wildcard (any port or none). Case-insensitive
# like browsers' scheme/host comparison; anchored at both ends.
cors_map_entries() {
  local origins=() origin regex
  IFS=',' read -r -a origins <<<"$1"
  for origin in "${origins[@]}"; do
    origin="${origin//[[:space:]]/}"
    [[ -n $origin ]] || continue
    [[ $origin =~ ^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:([0-9]{1,5}|\*))?$ ]] ||
      die "ALLOWED_ORIGINS: cannot use '$origin' (scheme://host[:port] with only the '*.' and ':*' wildcards)"
    regex="$(sed -e 's/\./\\./g' \
      -e 's#://\*\\\.#://([A-Za-z0-9-]+\\.)+#' \
      -e 's/:\*$/(:[0-9]+)?/' <<<"$origin")"
    # shellcheck disable=SC2016  # $http_origin is an nginx variable
    printf '"~*^%s$" $http_origin;\n' "$regex"
  done
}

# ---------------------------------------------------------------- templates

# Records the "# @param" declarations of a template file.
read_params() {
  local file=$1 line name
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ ^#[[:space:]]*@param[[:space:]]+([A-Z][A-Z0-9_]*)(=([^[:space:]]*))? ]] || continue
    name="${BASH_REMATCH[1]}"
    [[ -n ${DECLARED[$name]+x} ]] && continue
    DECLARED[$name]=1
    if [[ -n ${BASH_REMATCH[2]} ]]; then DEFAULTS[$name]="${BASH_REMATCH[3]}"; fi
  done <"$file"
}

# Appends FILE to EXPANDED with includes expanded, each line prefixed with INDENT, and
# records its params (no subshell, so the declarations stay visible).
expand() {
  local file=$1 indent=$2 depth=$3 line dir
  [[ -f $file ]] || die "template $file not found"
  ((depth < 5)) || die "includes nested too deeply at $file"
  dir="$(dirname "$file")"
  read_params "$file"
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^([[:space:]]*)@INCLUDE[[:space:]]+([^@[:space:]]+)@[[:space:]]*$ ]]; then
      expand "$dir/${BASH_REMATCH[2]}" "$indent${BASH_REMATCH[1]}" $((depth + 1))
    elif [[ -z $line ]]; then
      EXPANDED+=$'\n'
    else
      EXPANDED+="$indent$line"$'\n'
    fi
  done <"$file"
}

# Replaces every @NAME@ of TEXT (a variable name) in place.
substitute() {
  local -n text_ref=$1
  local name value
  for name in "${!DECLARED[@]}" "${!VALUES[@]}"; do
    if [[ -n ${VALUES[$name]+x} ]]; then
      value="${VALUES[$name]}"
    elif [[ -n ${DEFAULTS[$name]+x} ]]; then
      value="${DEFAULTS[$name]}"
    else
      continue
    fi
    # Quoted replacement: bash 5.2 would otherwise expand '&' in it.
    text_ref="${text_ref//"@$name@"/"$value"}"
  done
}

# Renders the CORS entries into the line(s) holding @CORS_ORIGINS@, keeping the indent.
substitute_cors() {
  local -n text_ref=$1
  local entries=$2 out="" line entry
  while IFS= read -r line; do
    if [[ $line =~ ^([[:space:]]*)@CORS_ORIGINS@[[:space:]]*$ ]]; then
      while IFS= read -r entry; do
        [[ -n $entry ]] && out+="${BASH_REMATCH[1]}$entry"$'\n'
      done <<<"$entries"
    else
      out+="$line"$'\n'
    fi
  done <<<"$text_ref"
  text_ref="${out%$'\n'}"
}

write_out() {
  local text=$1 out=$2 tmp
  if [[ -z $out ]]; then
    printf '%s\n' "$text"
    return
  fi
  tmp="$(mktemp "$(dirname "$out")/.$(basename "$out").XXXXXX")" || die "cannot write next to $out"
  if ! printf '%s\n' "$text" >"$tmp" || ! chmod 0644 "$tmp" || ! mv -f "$tmp" "$out"; then
    rm -f "$tmp"
    die "cannot write $out"
  fi
}

usage() {
  sed -n '/^# Usage:/,/^# Template syntax:/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local out="" env_file="" template="" check_only=0 text origins entries name value
  while (($# > 0)); do
    case $1 in
      -o) (($# >= 2)) || usage; out=$2; shift 2 ;;
      -e) (($# >= 2)) || usage; env_file=$2; shift 2 ;;
      -D)
        (($# >= 2)) || usage
        [[ $2 =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] || die "-D wants NAME=VALUE, got '$2'"
        VALUES[${BASH_REMATCH[1]}]="${BASH_REMATCH[2]}"
        shift 2
        ;;
      --check-origins) check_only=1; shift ;;
      -h | --help) usage ;;
      -*) usage ;;
      *) [[ -z $template ]] || usage; template=$1; shift ;;
    esac
  done
  origins="$(allowed_origins "$env_file")"
  entries="$(cors_map_entries "$origins")"
  ((check_only == 0)) || return 0
  [[ -n $template ]] || usage
  for name in "${!VALUES[@]}"; do
    value="${VALUES[$name]}"
    [[ $value != *$'\n'* && $value != *$'\r'* ]] || die "the value of $name has a line break"
  done
  expand "$template" "" 0
  text="${EXPANDED%$'\n'}"
  substitute text
  substitute_cors text "$entries"
  if [[ $text =~ $PLACEHOLDER_RE ]]; then
    die "no value for ${BASH_REMATCH[0]} in $template (pass -D ${BASH_REMATCH[0]//@/}=...)"
  fi
  write_out "$text" "$out"
}

main "$@"
