#!/usr/bin/env bash
# Builds the suite's container image from the Dockerfile with buildah: no Docker
# engine or daemon needed (make image). Installs buildah from Debian if missing
# (root only).
#
#   IMAGE=localhost/crm-suite:dev   tag of the result
#   BASE=auto                       official: the Dockerfile's python:3.11-slim base;
#                                   debian: a stand-in base built here from Debian's
#                                   python3 (3.11, as in bookworm) with mmdebstrap,
#                                   for machines that reach Debian and PyPI but no
#                                   container registry; auto: official if it can be
#                                   pulled, else debian (says so)
#   CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
#                                   mounted into the build so pip trusts what this
#                                   host trusts (TLS-intercepting proxies); empty: off
#   BUILDAH_ROOT=                   a storage directory of its own (tests), else buildah's
#   STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
#                                   work inside an unprivileged container too
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/crm-suite:dev}
BASE=${BASE:-auto}
OFFICIAL_BASE=docker.io/library/python:3.11-slim-bookworm
STANDIN_BASE=localhost/crm-python-base:3.11-bookworm
CA_BUNDLE=${CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

need() {
    local missing=()
    for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
    [[ ${#missing[@]} -eq 0 ]] && return
    if [[ $EUID -ne 0 ]]; then
        echo "build-image: missing ${missing[*]}; install it (apt-get install ${missing[*]})" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

buildah_() {
    if [[ -n ${BUILDAH_ROOT:-} ]]; then
        buildah --root "$BUILDAH_ROOT/storage" --runroot "$BUILDAH_ROOT/run" "$@"
    else
        buildah "$@"
    fi
}

# A minimal Debian bookworm with its python3 (3.11) and venv: what python:3.11-slim
# is, less the Python built from source. For building and testing where no
# container registry is reachable; release images use the official base.
build_standin_base() {
    need mmdebstrap
    local tar ctr mnt
    tar=$(mktemp --suffix=.tar)
    trap 'rm -f "$tar"' RETURN
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
        --format=tar bookworm "$tar"
    ctr=$(buildah_ from scratch)
    mnt=$(buildah_ mount "$ctr")
    tar -C "$mnt" -xf "$tar"
    buildah_ umount "$ctr" >/dev/null
    buildah_ config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 --cmd python3 "$ctr"
    buildah_ commit --quiet --rm "$ctr" "$STANDIN_BASE" >/dev/null
}

need buildah

case $BASE in
    official) base=$OFFICIAL_BASE ;;
    debian) base=$STANDIN_BASE ;;
    auto)
        if error=$(buildah_ pull --quiet "$OFFICIAL_BASE" 2>&1 >/dev/null); then
            base=$OFFICIAL_BASE
        else
            echo "build-image: cannot pull $OFFICIAL_BASE: ${error##*Error: }" >&2
            echo "build-image: building on a stand-in base from Debian packages instead" >&2
            base=$STANDIN_BASE
        fi
        ;;
    *) echo "build-image: BASE must be official, debian or auto, not $BASE" >&2; exit 2 ;;
esac
if [[ $base == "$STANDIN_BASE" ]]; then
    build_standin_base
fi

args=(--layers=false --build-arg "PYTHON_IMAGE=$base" --tag "$IMAGE")
if [[ -n $CA_BUNDLE && -f $CA_BUNDLE ]]; then
    args+=(--volume "$CA_BUNDLE:/run/crm-build/ca.crt:ro" --build-arg CA_BUNDLE=/run/crm-build/ca.crt)
fi
buildah_ bud "${args[@]}" .
echo "build-image: built $IMAGE on $base"
