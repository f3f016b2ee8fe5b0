"""Fixtures for the engine-harness tests: a scratch world of files, a log and a state file.

The provider and programs live in importable modules of this directory; the child processes
(program and ``python -m pulumi.dynamic``) find them through ``PYTHONPATH``, which the harness
passes through from the caller's environment, as the engine does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness_world import World

HERE = Path(__file__).resolve().parent


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    w = World(tmp_path)
    w.dir.mkdir()
    return w
