#!/usr/bin/env bash
# The programs the tests drive besides Python: Debian's chromium for the browser tests and
# gdal-bin's ogrinfo, which reads every export the way GIS users' tools will; Debian's headless
# Java for ODK Validate, the jar pyxform ships, which parses the phones' form with JavaRosa, the
# engine inside ODK Collect; nginx (light), to run the README's production setup (nginx in front
# of gunicorn) against slow clients. Installed from Debian's packages when missing; nothing here
# downloads a browser or a Java runtime of its own.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v ogrinfo >/dev/null 2>&1 || missing+=(gdal-bin)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install_test_tools: need ${missing[*]} (run as root or install them with apt-get)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
