"""vigo-curator push / resolve / ls, run in-process through main()."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pulumi_vigo_vm.curator.cli import main


def test_push_resolve_ls(
    curator: str, puddle: str, make_image: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    image = make_image(qcow2=True)
    common = ["--curator", curator, "--puddle", puddle]
    assert main(["push", *common, "--kind", "generic", str(image), "ubuntu:1.4"]) == 0
    out = capsys.readouterr().out
    assert f"pushed {puddle}/ubuntu:1.4 linux-amd64" in out
    artifact_id = out.split("artifact_id ")[1].split()[0]

    assert main(["resolve", *common, f"{artifact_id[:8]}/ubuntu@1.4"]) == 0
    out = capsys.readouterr().out
    fields = dict(line.split(None, 1) for line in out.splitlines())
    assert fields["artifact_id"] == artifact_id
    assert fields["version"] == "1.4"
    assert fields["size"] == str(image.stat().st_size)
    assert fields["digest"].startswith("sha256:")

    assert main(["resolve", *common, "--json", "ubuntu:1.4"]) == 0
    assert json.loads(capsys.readouterr().out)["artifact_id"] == artifact_id

    assert main(["ls", *common, f"{puddle}/*"]) == 0
    assert capsys.readouterr().out == f"{puddle}/ubuntu:1.4\t{artifact_id[:12]}\tlinux-amd64\n"


def test_errors_are_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGO_CURATOR", str(tmp_path / "empty"))
    assert main(["resolve", "Bad:1"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("vigo-curator: error: artifact reference 'Bad:1'") and err.count("\n") == 1
    )
    assert main(["resolve", "ubuntu:1"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["push", "--kind", "generic", str(tmp_path / "missing.img"), "u:1"]) == 1
    assert "cannot read" in capsys.readouterr().err
