"""A full disk in its several shapes becomes one DiskFull naming the folder."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from danlu.diskspace import disk_full_as_error, is_disk_full
from danlu.errors import DiskFull


@pytest.mark.parametrize(
    "raised",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        sqlite3.OperationalError("database or disk is full"),
        RuntimeError(
            "Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
            'message: "No space left on device" })'
        ),
    ],
)
def test_each_shape_of_a_full_disk_is_one_error_naming_the_folder(tmp_path, raised):
    with pytest.raises(DiskFull) as caught, disk_full_as_error(tmp_path, needed=5_000_000):
        raise raised
    assert str(tmp_path) in caught.value.message and "5.0 MB needed" in caught.value.message
    assert caught.value.status == 507 and "intact" in caught.value.hint


def test_other_errors_pass_through_and_a_chained_cause_counts(tmp_path):
    with pytest.raises(ValueError), disk_full_as_error(tmp_path):
        raise ValueError("not a disk problem")
    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as inner:
            raise RuntimeError("write failed") from inner
    except RuntimeError as outer:
        assert is_disk_full(outer)
    assert not is_disk_full(OSError(errno.EACCES, "denied"))
