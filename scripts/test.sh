#!/usr/bin/env bash
# The test command: prepare the host, lint, type-check, check the import layers, then every
# test (libvirt, SSH, registry, booted guests included; nothing is skipped). Run as root on
# Debian. Extra args go to one pytest run instead (e.g. a path, -k, -m).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-host.sh

# The base image for booted-guest tests: cached, and readable by qemu's user (not under /root).
export VIGO_TEST_IMAGE_CACHE=${VIGO_TEST_IMAGE_CACHE:-/var/tmp/vigo-test-images}

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy"
.venv/bin/mypy
echo "==> import contracts"
.venv/bin/lint-imports --no-cache
if [ $# -gt 0 ]; then
    echo "==> pytest $*"
    exec .venv/bin/pytest -q "$@"
fi

# Every test, in two pytest sessions side by side, each with its own domains, networks and
# sshd: the guest boots (TCG keeps a core busy for each) with a few suites of long runs of few
# processes, beside the rest (mostly short processes, libvirtd and files); then, alone, the
# tests that restart the shared libvirtd. The split only balances the two; any test may move.
beside=(tests/e2e tests/images tests/soak tests/rig tests/baseimage
    tests/integration/test_move_two_hosts.py)
boots_log=$(mktemp --suffix=-vigo-boots.log)
.venv/bin/pytest -q -p no:cacheprovider -m "not restarts_libvirtd" "${beside[@]}" \
    >"$boots_log" 2>&1 &
boots=$!
trap 'kill "$boots" 2>/dev/null || true; rm -f "$boots_log"' EXIT
failed=0
echo "==> pytest: every test but the guest boots and their companions (they run beside it)"
.venv/bin/pytest -q -m "not restarts_libvirtd" "${beside[@]/#/--ignore=}" || failed=1
echo "==> pytest: the guest boots and their companions: ${beside[*]}"
wait "$boots" || failed=1
cat "$boots_log"
echo "==> pytest: the tests that restart libvirtd, alone"
.venv/bin/pytest -q -p no:cacheprovider -m restarts_libvirtd || failed=1
exit "$failed"
