#!/usr/bin/env bash
# Local stand-ins for the base images the app Dockerfile pins, for machines that cannot pull from
# any registry (CI, build machines). Idempotent: a tag that already
# exists in the local Docker image store is left alone (FORCE=1 rebuilds both).
#
#   PYTHON_IMAGE (python:<X.Y.Z>-slim-<suite>): a minimal Debian <suite> from debootstrap with
#     Debian's python<X.Y> linked at /usr/local/bin like the official image. The patch release is
#     Debian's, not <Z>: this is a stand-in for building and checking the Dockerfiles, never for
#     shipping. The host's CA bundle is copied in and SSL_CERT_FILE set, so uv inside a build
#     trusts the same TLS roots the host does; it lives only in this local image, never in git.
#   UV_IMAGE (ghcr.io/astral-sh/uv:<V>): a scratch image with the `uv` binary at /uv (and /uvx),
#     taken from PyPI's uv==<V> wheel (through the host's uv), which ships the same release binary.
#
# The tags are read from the Dockerfile's ARG defaults, the Debian mirror from apt's sources:
# nothing here names a host or a version of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER=${DOCKER:-docker}
DOCKERFILES=(apps/Dockerfile)
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

die() { echo "stand-in-base-images: $*" >&2; exit 1; }

# The default of `ARG <name>=...`, which must be the same in every Dockerfile.
arg_default() {
    local name=$1 value="" file found
    for file in "${DOCKERFILES[@]}"; do
        found=$(sed -n "s/^ARG ${name}=//p" "$file")
        [ -n "$found" ] || die "$file has no 'ARG ${name}=<image>' default"
        [ -z "$value" ] || [ "$value" = "$found" ] || die "ARG ${name} differs: '$value' vs '$found' ($file)"
        value=$found
    done
    echo "$value"
}

# The first Debian mirror apt uses for `suite` (deb822 .sources or one-line .list entries).
apt_mirror() {
    local suite=$1 files=()
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    files+=(/etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
    for file in "${files[@]}"; do
        [ -f "$file" ] || continue
        case "$file" in
        *.sources)
            awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" }
                {
                    types = ""; uris = ""; suites = ""; comps = ""
                    for (i = 1; i <= NF; i++) {
                        line = $i
                        if (line ~ /^Types:/) { sub(/^Types:[ \t]*/, "", line); types = " " line " " }
                        if (line ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", line); uris = line }
                        if (line ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", line); suites = " " line " " }
                        if (line ~ /^Components:/) { sub(/^Components:[ \t]*/, "", line); comps = " " line " " }
                    }
                    if (types ~ / deb / && suites ~ (" " suite " ") && comps ~ / main /) { split(uris, u, " "); print u[1]; exit }
                }' "$file"
            ;;
        *)
            awk -v suite="$suite" '$1 == "deb" {
                    n = 2; if ($n ~ /^\[/) { while ($n !~ /\]$/) n++; n++ }
                    if ($(n + 1) == suite) { for (i = n + 2; i <= NF; i++) if ($i == "main") { print $n; exit } }
                }' "$file"
            ;;
        esac
    done | head -n 1
}

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

build_python_stand_in() {
    local tag=$1 suite minor mirror root
    # python:3.11.14-slim-bookworm -> version 3.11.14, suite bookworm, minor 3.11
    [[ "$tag" =~ ^python:([0-9]+\.[0-9]+)\.[0-9]+-slim-([a-z]+)$ ]] \
        || die "cannot read a Python version and Debian suite from '$tag' (expected python:X.Y.Z-slim-<suite>)"
    minor=${BASH_REMATCH[1]}
    suite=${BASH_REMATCH[2]}
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing: run scripts/bootstrap.sh (or apt-get install debootstrap)"
    [ -f "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE to copy into the stand-in"
    mirror=$(apt_mirror "$suite")
    [ -n "$mirror" ] || die "apt has no '$suite main' source to debootstrap from (see /etc/apt/sources.list*)"
    root=$(mktemp -d "${TMPDIR:-/var/tmp}/stand-in-python.XXXXXX")
    # shellcheck disable=SC2064  # expand now: the trap must remove this run's directory
    trap "rm -rf '$root'" EXIT
    echo "stand-in-base-images: debootstrap $suite from $mirror with python$minor -> $tag"
    # minbase: no compilers, like the slim images; python3-venv is what the official image's
    # stdlib offers (ensurepip + venv).
    debootstrap --variant=minbase --include="python${minor},python3-venv" "$suite" "$root" "$mirror" \
        >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; die "debootstrap failed (full log $root.log)"; }
    rm -f "$root.log"
    for name in "python${minor}" python3 python; do
        ln -sf "/usr/bin/python${minor}" "$root/usr/local/bin/$name"
    done
    cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log
    # What the official image sets: interpreter first on PATH, UTF-8 locale, python3 as the command.
    tar --numeric-owner --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -C "$root" -c . \
        | "$DOCKER" import \
            --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
            --change 'CMD ["python3"]' \
            - "$tag" >/dev/null
    rm -rf "$root"
    trap - EXIT
}

build_uv_stand_in() {
    local tag=$1 version dir
    version=${tag##*:}
    [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read a uv version from '$tag'"
    dir=$(mktemp -d "${TMPDIR:-/var/tmp}/stand-in-uv.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$dir'" EXIT
    echo "stand-in-base-images: uv==$version wheel from PyPI -> $tag"
    command -v uv >/dev/null 2>&1 || die "uv is missing: run scripts/bootstrap.sh"
    # The wheel's scripts are the release binaries; --target unpacks them into $dir/wheel/bin.
    uv pip install --quiet --target "$dir/wheel" --no-deps --only-binary :all: "uv==$version" \
        || die "could not install the uv==$version wheel from PyPI"
    mkdir "$dir/root"
    install -m 0755 "$dir/wheel/bin/uv" "$dir/wheel/bin/uvx" "$dir/root/"
    tar --numeric-owner --owner=0 --group=0 -C "$dir/root" -c . \
        | "$DOCKER" import --change 'ENTRYPOINT ["/uv"]' - "$tag" >/dev/null
    rm -rf "$dir"
    trap - EXIT
}

"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers ('$DOCKER info' failed): start dockerd first"
python_tag=$(arg_default PYTHON_IMAGE)
uv_tag=$(arg_default UV_IMAGE)
for tag in "$python_tag" "$uv_tag"; do
    if [ "${FORCE:-0}" != 1 ] && have_image "$tag"; then
        echo "stand-in-base-images: $tag exists, kept"
        continue
    fi
    if [ "$tag" = "$python_tag" ]; then build_python_stand_in "$tag"; else build_uv_stand_in "$tag"; fi
done
