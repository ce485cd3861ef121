#!/bin/sh
# Build (once) and cache a minimal Debian bookworm tree that boots with systemd and already has
# PostgreSQL and Redis installed, so that test-systemd.sh reruns start in seconds.
# Usage: packaging/bootstrap-tree.sh [CACHE_DIR]   (prints the tree's path)
set -eu
cache=${1:-${BREWD_TEST_CACHE:-/var/cache/brewd-test}}
mirror=${BREWD_TEST_MIRROR:-http://deb.debian.org/debian}
# Bump when the list changes: a cached tree from another recipe is rebuilt, never reused.
recipe="v2 bookworm systemd dbus postgresql redis-server python3"
tree=$cache/bookworm
if [ -f "$tree/.brewd-recipe" ] && [ "$(cat "$tree/.brewd-recipe")" = "$recipe" ]; then
    echo "$tree"
    exit 0
fi
mkdir -p "$cache"
rm -rf "$tree.new"
debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,libpam-systemd,ca-certificates,python3,adduser,procps \
    bookworm "$tree.new" "$mirror" >&2
# Maintainer scripts must not start daemons inside a chroot while the tree is being built.
printf '#!/bin/sh\nexit 101\n' >"$tree.new/usr/sbin/policy-rc.d"
chmod 755 "$tree.new/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$tree.new/etc/resolv.conf"
chroot "$tree.new" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends postgresql redis-server >&2
chroot "$tree.new" apt-get clean
# pg_createcluster saw the host's server on 5432 (a chroot shares the network) and took 5433;
# the booted container has a network of its own, where 5432 is the expected port.
sed -i 's/^port = .*/port = 5432/' "$tree.new"/etc/postgresql/*/main/postgresql.conf
rm -f "$tree.new/usr/sbin/policy-rc.d"
echo brewd-test >"$tree.new/etc/hostname"
: >"$tree.new/etc/machine-id"   # systemd generates one at first boot
echo "$recipe" >"$tree.new/.brewd-recipe"
rm -rf "$tree"
mv "$tree.new" "$tree"
echo "$tree"
