"""History alignment and what the model refuses to guess."""

from __future__ import annotations

import io

import pytest

from layerscan.errors import ImageFormatError
from layerscan.image.model import LayerBlob, assemble_image
from tests.support.synthetic import file, image, layer_tar


def test_empty_layer_entries_own_no_layer() -> None:
    img = image(
        [[file("a")], [file("b")]],
        config_extra={
            "history": [
                {"created_by": "/bin/sh -c #(nop) ADD file:x in / "},
                {"created_by": "/bin/sh -c #(nop)  ENV A=1", "empty_layer": True},
                {"created_by": "/bin/sh -c touch /b"},
            ]
        },
    )
    assert [layer.history.index if layer.history else None for layer in img.layers] == [0, 2]
    assert img.history[1].layer_index is None
    assert img.layers[1].instruction == "RUN touch /b"
    assert not img.warnings


def test_history_that_does_not_match_the_layers_is_reported_not_guessed() -> None:
    img = image([[file("a")], [file("b")]], instructions=["/bin/sh -c one"])
    assert all(layer.history is None for layer in img.layers)
    assert any(
        "history has 1 non-empty entries but the image has 2 layers" in w for w in img.warnings
    )


def test_deeply_nested_config_is_a_format_error() -> None:
    with pytest.raises(ImageFormatError, match="nested too deeply"):
        assemble_image(
            config_bytes=b"[" * 100000 + b"]" * 100000,
            blobs=[LayerBlob(opener=lambda: io.BytesIO(layer_tar([])))],
            source="docker-archive",
            target="t",
            reference=None,
            digest=None,
        )
