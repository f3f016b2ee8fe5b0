#!/usr/bin/env bash
# The test command: prepare the host, lint, type-check, check the import layers, then every
# test (libvirt, SSH, registry, booted guests included; nothing is skipped). Run as root on Debian.  Extra args go to pytest.
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
echo "==> pytest"
exec .venv/bin/pytest -q "$@"
