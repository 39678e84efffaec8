#!/usr/bin/env bash
# Idempotent set-up on Debian 12 (as root): apt packages, then .venv with the pinned requirements
# (requirements-dev.txt: the run-time requirements.txt plus the test and lint tools).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="qgis python3-qgis qgis-providers python3-gdal gdal-bin python3-venv xvfb xauth"
missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing apt packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv (Debian python, system site-packages for QGIS bindings)"
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
touch .venv/.installed
echo "setup: ok"
