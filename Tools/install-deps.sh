#!/usr/bin/env bash
# Installs the system packages IdentityLedger needs on a fresh Debian machine:
# liblmdb-dev (the engine's storage), lmdb-utils (mdb_stat, used by the tests),
# python3 (drives a second LMDB process in the stale-reader test) and pkg-config.
set -euo pipefail
packages=(liblmdb-dev lmdb-utils python3 pkg-config)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
