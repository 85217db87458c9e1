"""Engine fixtures: tiny official-format archives of CIFAR-10 and Tiny-ImageNet."""

from pathlib import Path

import pytest

from tests.nas.derived_archives import cifar_members, tiny_files, write_tar, write_zip


@pytest.fixture
def cifar_tar(tmp_path) -> Path:
    return write_tar(tmp_path / "cifar-10-python.tar.gz", cifar_members())


@pytest.fixture
def tiny_zip(tmp_path) -> Path:
    return write_zip(tmp_path / "tiny-imagenet-200.zip", tiny_files())
