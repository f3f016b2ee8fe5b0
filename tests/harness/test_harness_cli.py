"""The ``python -m pulumi_vigo_vm.testing`` command runs a project directory end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness_world import World

MAIN = """\
from harness_programs import files_program

files_program()
"""


def _project(world: World) -> Path:
    project = world.root / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: files-demo\nruntime: python\n", encoding="utf-8")
    (project / "__main__.py").write_text(MAIN, encoding="utf-8")
    return project


def _cli(
    world: World, verb: str, project: Path, items: list[dict[str, object]]
) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "pulumi_vigo_vm.testing", verb, str(project)]
    args += ["--state", str(world.state_file), "--stack", "ci", "--quiet"]
    for key, value in world.config(items, **{"vigo:uri": "qemu:///system"}).items():
        args += ["--config", f"{key}={value}"]
    return subprocess.run(args, capture_output=True, text=True, env=os.environ.copy(), check=False)


def test_cli_up_preview_destroy(world: World) -> None:
    project = _project(world)
    items: list[dict[str, object]] = [{"name": "a", "filename": "a.txt", "content": "alpha"}]

    up = _cli(world, "up", project, items)
    assert up.returncode == 0, up.stderr
    assert "create   pulumi-python:dynamic/harness:File a" in up.stdout
    assert 'uri: "qemu:///system"' in up.stdout
    state = json.loads(world.state_file.read_text(encoding="utf-8"))
    assert list(state["resources"]) == [
        "urn:pulumi:ci::files-demo::pulumi-python:dynamic/harness:File::a"
    ]

    preview = _cli(world, "preview", project, items)
    assert preview.returncode == 0 and "same" in preview.stdout

    destroy = _cli(world, "destroy", project, items)
    assert destroy.returncode == 0, destroy.stderr
    assert world.files() == {}


def test_cli_exits_non_zero_on_failure(world: World) -> None:
    project = _project(world)
    bad: list[dict[str, object]] = [{"name": "a", "filename": "a.txt", "content": ""}]
    result = _cli(world, "up", project, bad)
    assert result.returncode == 1
    assert "content must be a non-empty string" in result.stdout
