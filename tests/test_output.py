"""Files layerscan writes for the user (reports, baselines) never go through a planted link
or into a special file (layerscan/output.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from layerscan.errors import OutputError
from layerscan.output import write_output


def test_a_new_file_is_written_with_the_modes_open_would_give(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    previous = os.umask(0o022)
    try:
        write_output(target, '{"ok": true}\n')
    finally:
        os.umask(previous)
    assert target.read_text() == '{"ok": true}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left


def test_an_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.sarif"
    target.write_text("x" * 10_000)
    write_output(target, b"short")
    assert target.read_bytes() == b"short"


def test_a_link_at_the_name_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("the victim's own file")
    (tmp_path / "report.json").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        write_output(tmp_path / "report.json", "planted?")
    assert victim.read_text() == "the victim's own file"
    assert (tmp_path / "report.json").is_symlink()


def test_a_fifo_at_the_name_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "report.json")
    with pytest.raises(OutputError, match="a FIFO"):
        write_output(tmp_path / "report.json", "anything")


def test_a_directory_at_the_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "report.json").mkdir()
    with pytest.raises(OutputError, match="a directory"):
        write_output(tmp_path / "report.json", "anything")


def test_the_null_device_discards_and_stays_the_null_device() -> None:
    write_output(Path(os.devnull), "discarded")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_an_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        write_output(tmp_path / "missing-dir" / "report.json", "anything")
