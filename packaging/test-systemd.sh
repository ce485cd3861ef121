#!/bin/bash
# The .deb in a real systemd: boot a minimal Debian bookworm tree (debootstrap, cached) with
# systemd-nspawn, install PostgreSQL, Redis and the package, and check what an operator relies
# on. Prints PASS/FAIL per check and exits non-zero on any failure. Needs root.
# Usage: packaging/test-systemd.sh [DEB]   (default: the newest packaging/build/brewd_*.deb,
#        built first if there is none). Env: BREWD_TEST_CACHE (default /var/cache/brewd-test).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
started=$(date +%s)

deb=${1:-$(ls -t "$here"/build/brewd_*.deb 2>/dev/null | head -n1 || true)}
if [ -z "$deb" ]; then
    "$here/build.sh" --no-lintian
    deb=$(ls -t "$here"/build/brewd_*.deb | head -n1)
fi
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
if ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap systemd-container >/dev/null
fi

tree=$("$here/bootstrap-tree.sh")
work=$(mktemp -d /var/tmp/brewd-systemd.XXXXXX)
machine=brewd-test-$$
nspawn_pid=
cgroups=()
failures=0

cleanup() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        inside systemctl poweroff >/dev/null 2>&1 || true
        wait_for 30 "! kill -0 $nspawn_pid 2>/dev/null" || kill "$nspawn_pid" 2>/dev/null || true
        wait "$nspawn_pid" 2>/dev/null || true
    fi
    for cg in "${cgroups[@]}"; do
        [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# --- helpers -------------------------------------------------------------------------------
wait_for() {  # wait_for SECONDS SHELL-CONDITION: poll until true or the deadline passes
    local deadline=$(($(date +%s) + $1))
    while ! eval "$2"; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.5
    done
}

check() {  # check NAME COMMAND...: run it, print PASS or FAIL with its output
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        printf 'PASS  %s\n' "$name"
    else
        printf 'FAIL  %s\n' "$name"
        printf '%s\n' "$out" | tail -n 15 | sed 's/^/      | /'
        failures=$((failures + 1))
    fi
}

leader() { ps -o pid= --ppid "$nspawn_pid" | tr -d ' ' | head -n1; }

inside() {  # a command in the booted container, with a clean environment
    nsenter --target "$(leader)" --mount --uts --ipc --net --pid --cgroup -- \
        /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"
}

in_chroot() {
    chroot "$work/root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive HOME=/root "$@"
}

sh_in() { inside /bin/sh -ec "$1"; }

# --- the tree: a fresh copy of the cached one, with the package and its upgrade -----------
cp -a "$tree" "$work/root"
cp "$deb" "$work/root/root/brewd.deb"
# The "upgrade": the same package with a higher version, so dpkg runs its upgrade path.
dpkg-deb -R "$deb" "$work/next"
sed -i 's/^Version: .*/&+next1/' "$work/next/DEBIAN/control"
dpkg-deb -Zgzip -b "$work/next" "$work/root/root/brewd-next.deb" >/dev/null

# --- 1. in a chroot, where no systemd runs: installing and purging must not fail ----------
# (this also fetches the dependencies; the booted container has no network)
cp /etc/resolv.conf "$work/root/etc/resolv.conf"
check "chroot: apt install ./brewd.deb (no systemd running)" \
    in_chroot apt-get install -y -q /root/brewd.deb
check "chroot: unit enabled, service user created, brewd.env 0600 root:root" \
    in_chroot /bin/sh -ec '
        test -L /etc/systemd/system/multi-user.target.wants/brewd.service
        getent passwd brewd >/dev/null
        test "$(stat -c %a:%U:%G /etc/brewd/brewd.env)" = 600:root:root'
check "chroot: apt purge brewd" in_chroot apt-get purge -y -q brewd

# --- 2. boot it -------------------------------------------------------------------------
# No systemd runs as PID 1 here: nspawn is kept out of the caller's cgroup with throw-away
# cgroups of its own, and registers with no machined.
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    cgroups=("/sys/fs/cgroup/$machine")
else
    for h in systemd unified; do
        [ -d "/sys/fs/cgroup/$h" ] && cgroups+=("/sys/fs/cgroup/$h/$machine")
    done
fi
(
    for cg in "${cgroups[@]}"; do mkdir -p "$cg" && echo "$BASHPID" >"$cg/cgroup.procs"; done
    exec systemd-nspawn --quiet --boot --register=no --keep-unit --private-network \
        --machine="$machine" --directory="$work/root" </dev/null >"$work/console.log" 2>&1
) &
nspawn_pid=$!
booted() { [ -n "$(leader)" ] && inside systemctl is-system-running 2>/dev/null | grep -qE '^(running|degraded)$'; }
if ! wait_for 90 booted; then
    echo "FAIL  the container did not boot:"
    tail -n 30 "$work/console.log"
    exit 1
fi
boot_s=$(($(date +%s) - started))

check "postgresql and redis-server active" wait_for 60 \
    'inside systemctl is-active --quiet postgresql@15-main redis-server'
sh_in "runuser -u postgres -- psql -q -c \"CREATE ROLE brewd LOGIN PASSWORD 'brewd-test-pw'\"
       runuser -u postgres -- createdb -O brewd brewd"

# --- 3. install under systemd: enabled and started ------------------------------------------
check "apt install ./brewd.deb" inside apt-get install -y -q /root/brewd.deb
check "brewd enabled and started on install (database not configured yet)" sh_in '
    systemctl is-enabled --quiet brewd
    for i in $(seq 60); do systemctl is-active --quiet brewd && exit 0; sleep 0.5; done
    systemctl status --no-pager brewd; exit 1'
check "brewd.env 0600 root:root; brewd.toml is a conffile" sh_in '
    test "$(stat -c %a:%U:%G /etc/brewd/brewd.env)" = 600:root:root
    dpkg-query -W -f="\${Conffiles}" brewd | grep -q " /etc/brewd/brewd.toml "'
check "man pages brewd(8) and brewctl(1) installed" sh_in '
    test -s /usr/share/man/man8/brewd.8.gz; test -s /usr/share/man/man1/brewctl.1.gz'

sh_in 'echo "DATABASE_URL=postgresql://brewd:brewd-test-pw@127.0.0.1:5432/brewd" >>/etc/brewd/brewd.env'
check "brewd.env unreadable by the brewd user and group" sh_in '
    ! runuser -u brewd -- cat /etc/brewd/brewd.env >/dev/null 2>&1'
check "brewd db init (as the brewd user, secrets read by root from brewd.env)" sh_in '
    set -a; . /etc/brewd/brewd.env; set +a; runuser -u brewd -- brewd db init'
check "systemctl restart brewd: active" sh_in '
    systemctl restart brewd; systemctl is-active --quiet brewd'
check "the secret stays out of the journal" sh_in '! journalctl -u brewd | grep -q brewd-test-pw'

# --- 4. operator commands as a member of the brewd group --------------------------------------
sh_in 'useradd --create-home --groups brewd alice'
as_alice() { inside runuser -u alice -- "$@"; }
check "brewctl status (alice, group brewd)" sh_in '
    out=$(runuser -u alice -- brewctl status); echo "$out"; echo "$out" | grep -q expirePokes'
as_alice brewctl status 2>&1 | sed 's/^/      | /' || true
check "brewctl trigger expirePokes (alice)" as_alice brewctl trigger expirePokes
check "journalctl -u brewd BREWD_JOB=expirePokes shows the run" wait_for 15 \
    'inside journalctl -u brewd BREWD_JOB=expirePokes --no-pager -q | grep -q .'
check "brewctl by a user outside the group is refused (exit 5 or 6)" sh_in '
    useradd bob; rc=0; runuser -u bob -- brewctl trigger expirePokes || rc=$?
    test "$rc" = 5 -o "$rc" = 6'

# --- 5. signals: reload, watchdog -----------------------------------------------------------
main_pid() { inside systemctl show -P MainPID brewd; }
events() { inside journalctl -u brewd "BREWD_EVENT=$1" -q --no-pager | wc -l; }
pid_before=$(main_pid)
reloaded=$(events config_reloaded)
check "systemctl reload brewd: configuration reloaded by the same process" sh_in "
    systemctl reload brewd
    test \"\$(systemctl show -P MainPID brewd)\" = $pid_before
    systemctl is-active --quiet brewd"
check "... and the reload is in the journal (BREWD_EVENT=config_reloaded)" wait_for 15 \
    "[ \$(events config_reloaded) -gt $reloaded ]"
sh_in 'cp /etc/brewd/brewd.toml /root/brewd.toml.saved
       sed -i "s|^# timezone = \"UTC\"|timezone = \"Mars/Olympus_Mons\"|" /etc/brewd/brewd.toml
       grep -q "^timezone = \"Mars" /etc/brewd/brewd.toml'
rejected=$(events config_rejected)
inside systemctl reload brewd
check "a bad configuration on reload is rejected and the daemon keeps running" wait_for 15 \
    "[ \$(events config_rejected) -gt $rejected ] && [ \$(main_pid) = $pid_before ]"
sh_in 'cp /root/brewd.toml.saved /etc/brewd/brewd.toml && systemctl reload brewd'

pid_before=$(main_pid)
restarts_before=$(inside systemctl show -P NRestarts brewd)
watchdog_started=$(date +%s)
inside kill -STOP "$pid_before"
restarted() {
    local pid
    pid=$(main_pid)
    [ "$pid" != 0 ] && [ "$pid" != "$pid_before" ] && inside systemctl is-active --quiet brewd
}
check "kill -STOP: the watchdog restarts brewd" wait_for 150 restarted
watchdog_s=$(($(date +%s) - watchdog_started))
check "the restart was the watchdog's" sh_in "
    journalctl -u brewd --no-pager -q | grep -q 'Watchdog timeout'
    test \$(systemctl show -P NRestarts brewd) -gt $restarts_before"

# --- 6. upgrade: a modified conffile is kept, the service restarted -------------------------
sh_in 'sed -i "s/^# level = \"info\"/level = \"debug\"/" /etc/brewd/brewd.toml
       grep -q "^level = \"debug\"" /etc/brewd/brewd.toml'
invocation=$(inside systemctl show -P InvocationID brewd)
check "upgrade (apt install ./brewd-next.deb)" inside apt-get install -y -q /root/brewd-next.deb
check "upgrade kept the modified conffile and brewd.env" sh_in '
    grep -q "^level = \"debug\"" /etc/brewd/brewd.toml
    grep -q "^DATABASE_URL=" /etc/brewd/brewd.env'
check "upgrade restarted brewd" sh_in "
    test \"\$(systemctl show -P InvocationID brewd)\" != $invocation
    systemctl is-active --quiet brewd"

# --- 7. remove keeps the configuration; purge leaves nothing ----------------------------------
check "apt remove: service stopped, configuration and user kept" sh_in '
    apt-get remove -y -q brewd
    ! systemctl is-active --quiet brewd
    test -f /etc/brewd/brewd.toml; test -f /etc/brewd/brewd.env; getent passwd brewd >/dev/null'
check "apt purge: no user, group, /etc/brewd, unit, venv or logs left" sh_in '
    apt-get purge -y -q brewd
    ! getent passwd brewd; ! getent group brewd
    test ! -e /etc/brewd; test ! -e /opt/venvs/brewd; test ! -e /var/log/brewd
    test ! -e /lib/systemd/system/brewd.service; test ! -e /usr/bin/brewd
    test -z "$(find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled -name "brewd*")"
    test -z "$(systemctl list-unit-files --no-legend brewd.service)"
    ! dpkg-query -W brewd 2>/dev/null'

total_s=$(($(date +%s) - started))
echo "time: ${total_s}s in all (booted after ${boot_s}s; watchdog restart took ${watchdog_s}s)"
if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) FAILED"
    exit 1
fi
echo "all checks passed"
