"""created_by lines from each builder map back to their Dockerfile instruction."""

from __future__ import annotations

import pytest

from layerscan.model.instruction import parse_created_by


@pytest.mark.parametrize(
    ("created_by", "text", "build_args"),
    [
        # classic builder
        ("/bin/sh -c #(nop)  ENV A=B", "ENV A=B", {}),
        ("/bin/sh -c #(nop) COPY file:ab12 in /app/x ", "COPY file:ab12 in /app/x", {}),
        ("/bin/sh -c apt-get update", "RUN apt-get update", {}),
        ("|1 NPM_TOKEN=npm_x /bin/sh -c rm /a", "RUN rm /a", {"NPM_TOKEN": "npm_x"}),
        # BuildKit
        ("RUN /bin/sh -c echo hi # buildkit", "RUN echo hi", {}),
        ("RUN |2 A=1 B=2 /bin/sh -c make # buildkit", "RUN make", {"A": "1", "B": "2"}),
        ("COPY app /srv # buildkit", "COPY app /srv", {}),
        ("ENV PATH=/usr/bin", "ENV PATH=/usr/bin", {}),
        ("ARG VERSION=1.0", "ARG VERSION=1.0", {}),
        # buildah
        ("|1 TOKEN=t /bin/sh -c make", "RUN make", {"TOKEN": "t"}),
        ("/bin/sh -c #(nop) LABEL a=b", "LABEL a=b", {}),
        # other shells and tools
        ("/bin/bash -o pipefail -c curl x | sh", "RUN curl x | sh", {}),
        ("", "", {}),
        ("bazel build //image", "bazel build //image", {}),
    ],
)
def test_parse_created_by(created_by: str, text: str, build_args: dict[str, str]) -> None:
    parsed = parse_created_by(created_by)
    assert str(parsed) == text
    assert parsed.build_args == build_args
