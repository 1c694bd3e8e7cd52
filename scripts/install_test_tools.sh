#!/usr/bin/env bash
# The programs the tests drive besides Python: Debian's chromium for the browser tests and
# gdal-bin's ogrinfo, which reads every export the way GIS users' tools will. Installed from
# Debian's packages when missing; nothing here downloads a browser of its own.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v ogrinfo >/dev/null 2>&1 || missing+=(gdal-bin)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install_test_tools: need ${missing[*]} (run as root or install them with apt-get)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
