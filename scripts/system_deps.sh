#!/usr/bin/env bash
# Installs the Debian packages named in system-packages.txt that are missing.
# As root with apt-get (CI, these machines) it installs them; otherwise it names what is
# missing and exits 0, so that the tests that need a package report it instead of passing.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
while read -r line; do
  name="${line%%#*}"; name="$(echo "$name" | tr -d '[:space:]')"
  [ -z "$name" ] && continue
  dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed" || missing+=("$name")
done < system-packages.txt
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "system_deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  }
else
  echo "system_deps: missing Debian packages (install them as root): ${missing[*]}" >&2
fi
