"""Command line for the engine harness, a stand-in for ``pulumi`` where the CLI is missing.

Usage::

    python -m pulumi_vigo_vm.testing {preview,up,refresh,destroy} PROJECT_DIR --state FILE \\
        [--config key=value ...] [--secret-config key=value ...] [--stack NAME] \\
        [--project NAME] [--parallel N] [--skip-preview] [--quiet] \\
        [--policy-pack DIR [--policy-config FILE]]

Prints the steps and stack outputs (secrets masked) and exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from .engine import DEFAULT_PARALLEL, EngineHarness
from .errors import HarnessError
from .policy_analyzer import PolicyPackAnalyzer, load_policy_config
from .results import RunResult


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m pulumi_vigo_vm.testing",
        description="Run a Pulumi project's dynamic resources without the Pulumi CLI.",
    )
    parser.add_argument("verb", choices=["preview", "up", "refresh", "destroy"])
    parser.add_argument("project_dir", help="directory holding the program's __main__.py")
    parser.add_argument("--state", required=True, help="JSON state (checkpoint) file")
    parser.add_argument(
        "--config",
        "-c",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="stack config, namespaced (vigo:uri=qemu:///system); repeatable",
    )
    parser.add_argument(
        "--secret-config",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="stack config marked secret; repeatable",
    )
    parser.add_argument("--stack", "-s", default="dev", help="stack name (default: dev)")
    parser.add_argument("--project", help="project name (default: Pulumi.yaml name)")
    parser.add_argument(
        "--parallel",
        "-p",
        type=int,
        default=DEFAULT_PARALLEL,
        help=f"max resource operations at once (default: {DEFAULT_PARALLEL})",
    )
    parser.add_argument(
        "--skip-preview", action="store_true", help="up: do not run a preview first"
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="do not stream the program's output"
    )
    parser.add_argument(
        "--policy-pack",
        action="append",
        default=[],
        metavar="DIR",
        help="preview/up: run the policy pack in DIR before each step; repeatable",
    )
    parser.add_argument(
        "--policy-config",
        action="append",
        default=[],
        metavar="FILE",
        help="JSON config of the n-th --policy-pack (as --policy-pack-config); repeatable",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; return the process exit code (0 on success)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.policy_pack and args.verb not in ("preview", "up"):
        parser.error("--policy-pack applies to preview and up only")
    if len(args.policy_config) > len(args.policy_pack):
        parser.error("each --policy-config needs a --policy-pack before it")
    config = dict(args.config)
    secrets = dict(args.secret_config)
    config.update(secrets)
    try:
        harness = EngineHarness(
            args.project_dir,
            state_file=args.state,
            config=config,
            secret_config_keys=sorted(secrets),
            project=args.project,
            stack=args.stack,
            parallel=args.parallel,
            raise_on_error=False,
            echo=not args.quiet,
        )
        result: RunResult
        with contextlib.ExitStack() as packs:
            for i, pack_dir in enumerate(args.policy_pack):
                pack_config = (
                    load_policy_config(args.policy_config[i]) if i < len(args.policy_config) else {}
                )
                analyzer = PolicyPackAnalyzer(
                    pack_dir,
                    pack_config,
                    stack_config=config,
                    project=harness.project,
                    stack=harness.stack,
                )
                harness.analyzers.append(packs.enter_context(analyzer))
            if args.verb == "preview":
                result = harness.preview()
            elif args.verb == "up":
                result = harness.up(preview_first=not args.skip_preview)
            elif args.verb == "refresh":
                result = harness.refresh()
            else:
                result = harness.destroy()
    except HarnessError as exn:
        print(f"error: {exn}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
