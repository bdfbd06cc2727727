#!/usr/bin/env bash
# Installs the system servers the tests and `crm up` run for real: nats-server
# and a PostgreSQL server; and kubectl, which renders deploy/ for its tests
# (`kubectl kustomize`). Idempotent: installs only what is missing, and runs
# `apt-get update` only when it installs. Needs root only when something is missing.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# Debian puts it in /usr/sbin, which a non-root PATH often lacks.
have_nats() {
    command -v nats-server >/dev/null 2>&1 || [[ -x /usr/sbin/nats-server ]]
}

# The server binaries live outside PATH in Debian; psql alone is only the client.
have_postgres() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

have_kubectl() {
    command -v kubectl >/dev/null 2>&1
}

apt_install() {
    if [[ $EUID -ne 0 ]]; then
        echo "bootstrap: missing $*; run this script as root to install it" >&2
        exit 1
    fi
    # A fresh machine's package lists may be empty or stale.
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@"
}

missing=()
have_nats || missing+=(nats-server)
have_postgres || missing+=(postgresql)
have_kubectl || missing+=(kubectl)

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "bootstrap: nats-server, PostgreSQL and kubectl are already installed"
    exit 0
fi

echo "bootstrap: installing ${missing[*]}"
apt_install "${missing[@]}"

have_nats || { echo "bootstrap: nats-server still missing after install" >&2; exit 1; }
have_postgres || { echo "bootstrap: PostgreSQL server still missing after install" >&2; exit 1; }
have_kubectl || { echo "bootstrap: kubectl still missing after install" >&2; exit 1; }
echo "bootstrap: done"
