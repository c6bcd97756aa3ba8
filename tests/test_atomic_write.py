"""Atomic writes: the target is replaced whole or not at all, with an ordinary file mode."""

import os
import stat

import pytest

from insgan_core.data.io._atomic import atomic_path


def test_new_file_gets_the_umask_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        target = tmp_path / "out.txt"
        with atomic_path(target) as tmp:
            tmp.write_text("data")
        assert target.read_text() == "data"
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
    finally:
        os.umask(mask)


def test_existing_file_keeps_its_mode_and_survives_a_failed_write(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
