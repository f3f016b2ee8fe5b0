#!/usr/bin/env bash
# Quickstart: from a fresh Debian 12 machine (as root) to a running VigoVm.
#
#   scripts/quickstart.sh         set up the host, build a base image, `up` examples/minimal
#   scripts/quickstart.sh down    destroy the example VM (domain, overlay, seed ISO) and the
#                                 base its VigoBaseImage placed; the built image in the cache,
#                                 packages, bridge, network and .venv stay
#
# Steps (each is skipped when already done, so a second run changes nothing):
#   1. apt-get install libvirt, qemu, the build deps of libvirt-python and the image builder's
#      host packages (tests/images/host-packages.txt)
#   2. start virtlogd and libvirtd (systemctl under systemd, else as daemons) and wait for
#      the libvirt socket
#   3. let the kvm group use /dev/kvm; create the bridge vigobr0 the tests' NICs plug into
#   4. .venv with `pip install -e '.[dev]'`
#   5. build the small Debian 12 cloud-init image (tests/images/build.py) into a cache
#      directory the qemu user (libvirt-qemu) can read
#   6. an isolated libvirt network vigo-quickstart (no <forward>, 198.18.254.0/24, DHCP) for
#      the example's NIC
#   7. `pulumi up --yes` examples/minimal (local backend) if the Pulumi CLI is on PATH,
#      else the same through the engine harness (python -m pulumi_vigo_vm.testing up): its
#      VigoBaseImage copies the image built in step 5 from a file:// source (no internet
#      needed), verified by its sha256, to /var/lib/libvirt/images/bases/ (VIGO_BASE_TARGET);
#      the VM on it waits until cloud-init finished (waitFor=ready)
#   8. check the guest's cloud-init marker on the serial console, print the outputs and the
#      VM's address
#
# Environment (all optional):
#   VIGO_VM_NAME           domain name (default ex-minimal)
#   VIGO_BRIDGE            host bridge for the NIC (default vigobr0, created if missing)
#   VIGO_DOMAIN_TYPE       kvm or qemu (default: kvm when /dev/kvm exists and the CPU
#                          has vmx/svm, else qemu = software emulation)
#   VIGO_TEST_IMAGE_CACHE  base image cache (default /var/lib/libvirt/images/vigo-cache)
#   VIGO_BASE_TARGET       where the example's VigoBaseImage puts the base (default
#                          /var/lib/libvirt/images/bases/<the built image's file name>)
#   VIGO_QUICKSTART_DIR    the harness's state (default /var/lib/vigo-quickstart); the Pulumi
#                          CLI keeps its stack in ~/.pulumi and examples/minimal/Pulumi.dev.yaml
#   VIGO_BOOT_WAIT         seconds to wait for the console marker (default 600; 0: don't wait)
#   VIGO_USE_HARNESS=1     use the engine harness even when `pulumi` is installed
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EXAMPLE="$REPO/examples/minimal"
PROJECT=vigo-minimal
STACK=dev
URI=qemu:///system
VM_NAME=${VIGO_VM_NAME:-ex-minimal}
BRIDGE=${VIGO_BRIDGE:-vigobr0}
IMAGE_CACHE=${VIGO_TEST_IMAGE_CACHE:-/var/lib/libvirt/images/vigo-cache}
WORK_DIR=${VIGO_QUICKSTART_DIR:-/var/lib/vigo-quickstart}
BOOT_WAIT=${VIGO_BOOT_WAIT:-600}
NETWORK=vigo-quickstart   # isolated (no <forward>): DHCP for the VM, nothing leaves the host
NETWORK_BRIDGE=vigoqs0
NETWORK_PREFIX=198.18.254   # 198.18.0.0/15 is reserved for test networks
STATE_FILE="$WORK_DIR/$PROJECT-$STACK.json"
ARGS_FILE="$WORK_DIR/$PROJECT-$STACK.args"   # the harness's --config arguments, one a line
RUN_LOG="$WORK_DIR/$PROJECT-$STACK.up.log"   # the last harness `up` report
PY="$REPO/.venv/bin/python"
MARKER=VIGO-EXAMPLE-READY

log() { printf '\n==> [%3ss] %s\n' "$SECONDS" "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'quickstart: error: %s\n' "$*" >&2; exit 1; }

choose_domain_type() {
    local why
    if [[ -n "${VIGO_DOMAIN_TYPE:-}" ]]; then
        DOMAIN_TYPE=$VIGO_DOMAIN_TYPE why="from VIGO_DOMAIN_TYPE"
    elif [[ -e /dev/kvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
        DOMAIN_TYPE=kvm why="hardware virtualization"
    else
        DOMAIN_TYPE=qemu why="no usable KVM: software emulation, slow but works"
    fi
    note "domain type: $DOMAIN_TYPE ($why)"
}

build_image() {
    log "base image (cache $IMAGE_CACHE)"
    # qemu runs as libvirt-qemu: every directory above the image must be traversable.
    mkdir -p "$IMAGE_CACHE"
    chmod 0755 "$IMAGE_CACHE"
    # Progress lines only; mmdebstrap's chatter goes to the build log.
    local build_log="$WORK_DIR/image-build.log"
    if ! BASE_PATH=$(VIGO_TEST_IMAGE_CACHE="$IMAGE_CACHE" "$PY" "$REPO/tests/images/build.py" \
        --cache-dir "$IMAGE_CACHE" 2> >(tee "$build_log" | grep --line-buffered '^\[test-image\]' >&2) |
        tail -n 1); then
        tail -n 30 "$build_log" >&2
        die "the image build failed; full log: $build_log"
    fi
    [[ -f "$BASE_PATH" ]] || die "the image builder printed no image path; see $build_log"
    note "$BASE_PATH"
    # The example's VigoBaseImage takes it from here, as it would from a mirror: a file://
    # source and its digest, so a machine without internet access runs the example as is.
    BASE_SOURCE="file://$BASE_PATH"
    BASE_SHA256=$(sha256sum "$BASE_PATH" | cut -d' ' -f1)
    BASE_TARGET=${VIGO_BASE_TARGET:-/var/lib/libvirt/images/bases/$(basename "$BASE_PATH")}
    note "examples/minimal places it at $BASE_TARGET (sha256 $BASE_SHA256)"
}

# -- the example, through the Pulumi CLI or the engine harness ---------------------------------

use_cli() { [[ -z "${VIGO_USE_HARNESS:-}" ]] && command -v pulumi >/dev/null; }

pulumi_cli() {
    # A local backend and an empty passphrase: this is a throwaway single-user stack.
    PATH="$REPO/.venv/bin:$PATH" VIRTUAL_ENV="$REPO/.venv" \
        PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}" PULUMI_SKIP_UPDATE_CHECK=1 \
        pulumi --cwd "$EXAMPLE" --non-interactive "$@"
}

harness() {
    "$PY" -m pulumi_vigo_vm.testing "$1" "$EXAMPLE" --state "$STATE_FILE" "${HARNESS_CONFIG[@]}"
}

make_network() {
    # An isolated libvirt network with DHCP, so the VM gets an address the stack reports.
    log "libvirt network $NETWORK ($NETWORK_PREFIX.0/24, isolated)"
    if ! virsh -c "$URI" net-info "$NETWORK" >/dev/null 2>&1; then
        virsh -c "$URI" net-define /dev/stdin >/dev/null <<XML
<network>
  <name>$NETWORK</name>
  <bridge name='$NETWORK_BRIDGE'/>
  <ip address='$NETWORK_PREFIX.1' netmask='255.255.255.0'>
    <dhcp><range start='$NETWORK_PREFIX.10' end='$NETWORK_PREFIX.250'/></dhcp>
  </ip>
</network>
XML
        virsh -c "$URI" net-autostart "$NETWORK" >/dev/null
    fi
    local info
    info=$(virsh -c "$URI" net-info "$NETWORK")
    if ! grep -q '^Active: *yes' <<<"$info"; then
        virsh -c "$URI" net-start "$NETWORK" >/dev/null \
            || die "cannot start libvirt network $NETWORK (is dnsmasq-base installed?)"
    fi
}

harness_config() {
    HARNESS_CONFIG=(--stack "$STACK"
        --config "vigo:uri=$URI" --config "vigo:domainType=$DOMAIN_TYPE"
        --config "$PROJECT:vmName=$VM_NAME" --config "$PROJECT:network=$NETWORK"
        --config "$PROJECT:networkBridge=" --config "$PROJECT:waitFor=ready"
        --config "$PROJECT:baseSource=$BASE_SOURCE" --config "$PROJECT:baseSha256=$BASE_SHA256"
        --config "$PROJECT:basePath=$BASE_TARGET")
    printf '%s\n' "${HARNESS_CONFIG[@]}" >"$ARGS_FILE"
}

deploy() {
    log "examples/minimal: up"
    if use_cli; then
        DRIVER=cli
        pulumi_cli login --local
        pulumi_cli stack select --create "$STACK"
        local key value
        while read -r key value; do
            pulumi_cli config set --stack "$STACK" "$key" "$value"
        done <<EOF
vigo:uri $URI
vigo:domainType $DOMAIN_TYPE
vmName $VM_NAME
network $NETWORK
waitFor ready
baseSource $BASE_SOURCE
baseSha256 $BASE_SHA256
basePath $BASE_TARGET
EOF
        pulumi_cli config set --stack "$STACK" networkBridge ""
        pulumi_cli up --yes --stack "$STACK"
        OUTPUTS=$(pulumi_cli stack output --stack "$STACK" --json)
    else
        DRIVER=harness
        note "no Pulumi CLI on PATH: using the engine harness (python -m pulumi_vigo_vm.testing)"
        harness_config
        harness up | tee "$RUN_LOG"
        OUTPUTS=$(sed -n '/^Outputs:/,/^Resources:/p' "$RUN_LOG" | sed '1d;$d')
        SUMMARY=$(grep '^Resources:' "$RUN_LOG" || true)
    fi
}

output() {  # output KEY: one stack output's value
    if [[ $DRIVER == cli ]]; then
        pulumi_cli stack output --stack "$STACK" "$1"
    else
        sed -n "s/^ *$1: \"\\(.*\\)\"\$/\\1/p" <<<"$OUTPUTS"
    fi
}

wait_for_console() {
    # The marker carries the guest's SMBIOS UUID (= the domain's): an earlier VM's lines in
    # the appended console log do not count.
    local console_log=$1 uuid=$2 i
    ((BOOT_WAIT > 0)) || return 0
    log "waiting up to ${BOOT_WAIT}s for '$MARKER ... uuid=$uuid' on the serial console"
    for ((i = 0; i < BOOT_WAIT; i += 5)); do
        if grep -a -i -m1 "$MARKER .*uuid=$uuid" "$console_log" 2>/dev/null; then
            note "seen after ${i}s"
            return
        fi
        sleep 5
    done
    tail -n 20 "$console_log" 2>/dev/null || true
    die "no '$MARKER' in $console_log after ${BOOT_WAIT}s (the VM is still there; see above)"
}

teardown_command() {
    if [[ $DRIVER == cli ]]; then
        echo "pulumi --cwd examples/minimal destroy --yes --stack $STACK"
    else
        printf '%q ' .venv/bin/python -m pulumi_vigo_vm.testing destroy examples/minimal \
            --state "$STATE_FILE" "${HARNESS_CONFIG[@]}"
        echo
    fi
}

report() {
    local console_log
    console_log=$(output console_log_path)
    wait_for_console "$console_log" "$(output uuid)"
    log "done"
    cat <<EOF
    Set up: packages, libvirtd ($URI), /dev/kvm, bridge $BRIDGE, the isolated network
      $NETWORK ($NETWORK_PREFIX.0/24), .venv, base image $BASE_PATH (built), placed by the
      example's VigoBaseImage at $BASE_TARGET
    Deployed examples/minimal (stack $STACK, via $DRIVER, domain type $DOMAIN_TYPE)${SUMMARY:+: $SUMMARY}

Stack outputs:
$OUTPUTS

The VM's address (its DHCP lease on $NETWORK; nothing outside this host reaches it):
    $(output ip_address)

Watch the console:
    virsh -c $URI console $VM_NAME          (Ctrl+] to leave)
    tail -f $console_log

Tear it down (the VM, then the placed base at $BASE_TARGET; the built image stays):
    scripts/quickstart.sh down
  which runs
    $(teardown_command)
EOF
}

down() {
    if use_cli && pulumi_cli stack select "$STACK" >/dev/null 2>&1; then
        log "examples/minimal: destroy (Pulumi CLI)"
        pulumi_cli destroy --yes --stack "$STACK"
        pulumi_cli stack rm --yes --stack "$STACK"   # also removes Pulumi.$STACK.yaml
    elif [[ -f "$STATE_FILE" ]]; then
        log "examples/minimal: destroy (engine harness)"
        mapfile -t HARNESS_CONFIG <"$ARGS_FILE"
        harness destroy
        rm -f "$STATE_FILE" "$ARGS_FILE" "$RUN_LOG"
    else
        note "nothing to destroy: no $STATE_FILE"
    fi
}

main() {
    [[ $EUID -eq 0 ]] || die "run as root (apt-get, libvirtd, /dev/kvm, the bridge, the image build)"
    cd "$REPO"
    mkdir -p "$WORK_DIR"
    chmod 0700 "$WORK_DIR"
    SECONDS=0
    case "${1:-up}" in
    up)
        log "host set-up (scripts/setup-host.sh)"
        VIGO_BRIDGE=$BRIDGE "$REPO/scripts/setup-host.sh"
        choose_domain_type
        build_image
        make_network
        deploy
        report
        ;;
    down) down ;;
    *) die "usage: $0 [up|down]" ;;
    esac
    printf '\n(quickstart %s took %ss)\n' "${1:-up}" "$SECONDS"
}

main "$@"
