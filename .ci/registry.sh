#!/usr/bin/env bash
# Debian's docker-registry (the CNCF distribution registry) for the curator tests.
#
#   bash .ci/registry.sh            install it if missing (what CI runs before pytest)
#   bash .ci/registry.sh start PORT DATA_DIR
#                                   run one on 127.0.0.1:PORT in the foreground (manual use)
#
# The tests start their own registry on a free 127.0.0.1 port with a config in a tmp dir,
# so CI only needs the binary. The package's own service listens on :5000 on every
# interface; it is stopped and disabled here and never used.
set -euo pipefail

install_registry() {
    if ! command -v docker-registry >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
    fi
    if [ -d /run/systemd/system ] && systemctl is-enabled --quiet docker-registry 2>/dev/null; then
        systemctl disable --now docker-registry >/dev/null 2>&1 || true
    fi
    command -v docker-registry
}

start_registry() {
    local port=$1 data=$2
    mkdir -p "$data"
    local config
    config=$(mktemp --suffix=.yml)
    cat >"$config" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
    exec docker-registry serve "$config"
}

case "${1:-install}" in
    install) install_registry ;;
    start) install_registry >/dev/null && start_registry "${2:?PORT}" "${3:?DATA_DIR}" ;;
    *) echo "usage: $0 [install | start PORT DATA_DIR]" >&2; exit 2 ;;
esac
