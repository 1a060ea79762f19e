#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks run as real processes (redis-server, wrk,
# chromium for the /docs browser test) when they are missing. Tests never skip for a missing binary;
# they need it installed.
set -euo pipefail
missing=()
for tool in "$@"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

# Binary name -> Debian package.
pkgs=()
for tool in "${missing[@]}"; do
  case "$tool" in
    redis-server) pkgs+=(redis-server) ;;
    wrk) pkgs+=(wrk) ;;
    node) pkgs+=(nodejs npm) ;;
    # Playwright drives Debian's build (no browser download); a font, or screenshots show no text.
    chromium) pkgs+=(chromium fonts-liberation) ;;
    *) pkgs+=("$tool") ;;
  esac
done

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: missing ${missing[*]}; install them with your package manager (Debian: ${pkgs[*]})" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing ${pkgs[*]} (needed for ${missing[*]})" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
