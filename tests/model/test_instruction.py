"""created_by lines from each builder map back to their Dockerfile instruction."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerscan.model.instruction import _after_shell_c, parse_created_by
from tests.support.adversarial import MB, SECONDS_PER_MB, created_by_lines, fill, timed


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


_OLD_SHELL_C = re.compile(r"^(/\S*sh(?:\s+-o\s+\S+|\s+-[^c\s]\S*)*)\s+-c\s+(.*)$", re.DOTALL)
"""The regular expression the shell-prefix reader replaced (it backtracked over every `-o`):
kept as the reference the reader must agree with."""


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.sampled_from(["-o", "-c", "-e", "-x", "-", "--", "-cx", "pipefail", "x", "-c "]),
        max_size=10,
    ),
    st.sampled_from([" ", "  ", "\t", " \n"]),
    st.sampled_from(["/bin/sh", "/bin/bash", "/sh", "sh", "/bin/shell"]),
)
def test_shell_prefix_reads_as_the_old_regular_expression(
    tokens: list[str], space: str, shell: str
) -> None:
    command = space.join([shell, *tokens])
    old = _OLD_SHELL_C.match(command)
    assert _after_shell_c(command) == (None if old is None else old.group(2))


@pytest.mark.parametrize("shape", sorted(created_by_lines()))
def test_history_lines_are_parsed_in_linear_time(shape: str) -> None:
    """Issue 19, class 1: 1 MB and 10 MB of a line shaped against the parser (40 `-o` took
    the old regular expression minutes; `|N K=V` pairs were split by copying the line)."""
    prefix, unit = created_by_lines()[shape]
    for megabytes in (1, 10):
        text = prefix + fill(unit, megabytes * MB)
        result = timed(parse_created_by, (text,), SECONDS_PER_MB * megabytes)
        assert result.finished, f"{shape} at {megabytes} MB: {result.error or 'too slow'}"
