#!/usr/bin/env bash
# Prepare this Debian machine to run pulumi_vigo_vm and its tests. Idempotent; run as root.
#
#   - Debian packages: libvirt, qemu, qemu-img, build deps of libvirt-python, sshd, a registry,
#     and what the test-image builder needs (tests/images/host-packages.txt)
#   - libvirtd and virtlogd running (started directly when there is no systemd)
#   - /dev/kvm usable by qemu's group (else libvirtd re-probes qemu on EVERY define: ~50 s each)
#   - the bridge vigobr0 for VM NICs (tests and examples/minimal)
#   - .venv with the package (editable) and its dev tools
set -euo pipefail
cd "$(dirname "$0")/.."

BRIDGE=${VIGO_BRIDGE:-vigobr0}

say() { printf '==> %s\n' "$*"; }

install_packages() {
    local wanted missing=()
    wanted=$(cat scripts/host-packages.txt tests/images/host-packages.txt | sort -u)
    for pkg in $wanted; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # The registry package starts a service on :5000 on every interface; tests run their own.
    if [ -d /run/systemd/system ]; then
        systemctl disable --now docker-registry >/dev/null 2>&1 || true
    fi
}

start_daemons() {
    if [ -e /dev/kvm ]; then
        getent group kvm >/dev/null || groupadd --system kvm
        chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
    fi
    if ! virsh -c qemu:///system version >/dev/null 2>&1; then
        if [ -d /run/systemd/system ]; then
            say "starting virtlogd and libvirtd with systemctl"
            systemctl start virtlogd.socket libvirtd.socket libvirtd.service
        else
            say "no systemd: starting virtlogd and libvirtd as daemons"
            mkdir -p /run/libvirt
            pgrep -x virtlogd >/dev/null || virtlogd -d
            pgrep -x libvirtd >/dev/null || libvirtd -d
        fi
        for _ in $(seq 300); do
            virsh -c qemu:///system version >/dev/null 2>&1 && break
            sleep 0.2
        done
    fi
    virsh -c qemu:///system version >/dev/null \
        || { echo "libvirtd did not come up" >&2; exit 1; }
}

make_bridge() {
    if [ ! -e "/sys/class/net/$BRIDGE" ]; then
        say "creating bridge $BRIDGE"
        ip link add "$BRIDGE" type bridge
    fi
    ip link set "$BRIDGE" up
}

make_venv() {
    if [ ! -x .venv/bin/python ]; then
        say "creating .venv"
        python3 -m venv .venv
    fi
    if ! .venv/bin/python -c "import pulumi_vigo_vm, pytest, libvirt" >/dev/null 2>&1 \
        || [ pyproject.toml -nt .venv/.installed ]; then
        say "installing the package and its dev tools into .venv"
        if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e '.[dev]'; } \
            >.venv/pip.log 2>&1; then
            cat .venv/pip.log >&2
            exit 1
        fi
        touch .venv/.installed
    fi
}

install_packages
start_daemons
make_bridge
make_venv
say "host ready: libvirt $(virsh -c qemu:///system version --daemon | awk '/daemon/ {print $NF}'), bridge $BRIDGE, .venv"
