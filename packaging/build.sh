#!/bin/sh
# Build brewd_<version>_<arch>.deb from this checkout, then check it with lintian.
# Usage: packaging/build.sh [--no-lintian] [OUTDIR]        (default OUTDIR: packaging/build)
# The tree (tracked and untracked-but-not-ignored files) is copied to a scratch build directory
# and packaging/debian is put in place there as debian/, so the repository keeps its layout.
# As root, missing build dependencies are installed with apt-get first.
set -eu
lintian=yes
if [ "${1:-}" = "--no-lintian" ]; then lintian=no; shift; fi
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$root/packaging/build}" && cd "${1:-$root/packaging/build}" && pwd)
# Debian's tools and interpreter only, whatever else (pyenv, a venv) the caller's PATH holds.
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
unset VIRTUAL_ENV PYTHONHOME PYTHONPATH

work=$(mktemp -d /tmp/brewd-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$root" ls-files -z --cached --others --exclude-standard \
        | (cd "$root" && xargs -0 tar -cf - --no-recursion --ignore-failed-read) \
        | tar -xf - -C "$work/src"
else
    tar -cf - -C "$root" --exclude=.venv --exclude=packaging/build . | tar -xf - -C "$work/src"
fi
rm -rf "$work/src/debian" "$work/src/packaging/build"
cp -a "$root/packaging/debian" "$work/src/debian"
cd "$work/src"

# The package version is the changelog's; it must be the version brewd reports.
deb_version=$(dpkg-parsechangelog -SVersion)
py_version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' brewd/__init__.py)
if [ "${deb_version%%-*}" != "$py_version" ]; then
    echo "build.sh: packaging/debian/changelog says $deb_version, brewd/__init__.py says $py_version" >&2
    exit 1
fi

if ! dpkg-checkbuilddeps >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then dpkg-checkbuilddeps; fi  # prints what is missing, fails
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq "$work/src" >/dev/null
fi

# Each line of the log time-stamped, to see where a slow build spends its time.
{ dpkg-buildpackage -b -us -uc 2>&1; echo $? >"$work/rc"; } \
    | awk '{ print strftime("%T"), $0; fflush() }' >"$work/build.log"
if [ "$(cat "$work/rc")" != 0 ]; then
    tail -n 60 "$work/build.log" >&2
    echo "build.sh: dpkg-buildpackage failed (log above)" >&2
    exit 1
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=brewd_${deb_version}_${arch}.deb
cp "$work/$deb" "$work/build.log" "$out/"
echo "built $out/$deb"

if [ "$lintian" = yes ]; then
    if ! command -v lintian >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lintian >/dev/null
    fi
    # Errors fail the build (SPEC §8); warnings and info are reported.
    status=0
    lintian --fail-on error --display-info "$out/$deb" >"$out/lintian.txt" 2>&1 || status=$?
    grep -E '^(E|W):' "$out/lintian.txt" || true
    echo "lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors," \
        "$(grep -c '^W:' "$out/lintian.txt" || true) warnings," \
        "$(grep -c '^I:' "$out/lintian.txt" || true) info (all in $out/lintian.txt;" \
        "overrides: packaging/debian/brewd.lintian-overrides)"
    exit "$status"
fi
