"""History lines in each builder's own format, written back as Dockerfile lines.

The lines are the ones the engine here records (the classic builder and BuildKit of
Docker 20.10); tests/engine/test_dockerfile.py rebuilds from them for real.
"""

from __future__ import annotations

import pytest

from layerscan.model.dockerfile_syntax import (
    dockerfile_line,
    go_duration,
    go_strings,
    healthcheck_config,
)
from layerscan.model.instruction import parse_created_by
from tests.support.adversarial import MB, SECONDS_PER_MB, created_by_lines, fill, timed


@pytest.mark.parametrize(
    ("created_by", "line"),
    [
        # the classic builder
        ('/bin/sh -c #(nop)  CMD ["sh" "-c" "echo hi"]', 'CMD ["sh", "-c", "echo hi"]'),
        ('/bin/sh -e -c #(nop)  ENTRYPOINT ["/bin/sh" "-c"]', 'ENTRYPOINT ["/bin/sh", "-c"]'),
        ("/bin/sh -e -c #(nop)  SHELL [/bin/sh -e -c]", 'SHELL ["/bin/sh", "-e", "-c"]'),
        ("/bin/sh -c #(nop)  VOLUME [/data /logs]", 'VOLUME ["/data", "/logs"]'),
        ("/bin/sh -c #(nop)  EXPOSE 8080/tcp 9090", "EXPOSE 8080/tcp 9090"),
        (
            "/bin/sh -c #(nop) COPY dir:1e1a5ac5b3cfed7170ff7cffb16c7595a71c173740f88af8eecd07"
            "0fab0f26a3 in /opt/deploy/aws/ ",
            "COPY dir:1e1a5ac5 /opt/deploy/aws/",
        ),
        (
            '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q http://x/ || exit 1"] '
            '"30s" "3s" "0s" \'\\x03\'}',
            "HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD wget -q http://x/ || exit 1",
        ),
        ("|1 T=x /bin/touch /e", 'RUN ["/bin/touch", "/e"]'),
        ("|1 T=x /bin/sh -c make all", "RUN make all"),
        ("/bin/sh -c #(nop)  ONBUILD RUN echo onbuild", "ONBUILD RUN echo onbuild"),
        # BuildKit
        ("EXPOSE map[80/tcp:{} 53/udp:{}]", "EXPOSE 80/tcp 53/udp"),
        ("RUN |1 T=x /bin/touch /e # buildkit", 'RUN ["/bin/touch", "/e"]'),
        ("RUN |1 T=x /bin/sh -c echo app > /app.txt # buildkit", "RUN echo app > /app.txt"),
        ("COPY --from=build /out /app # buildkit", "COPY --from=build /out /app"),
        (
            'HEALTHCHECK &{["CMD" "/bin/check" "--fast"] "1m0s" "0s" "0s" "0s" \'\\x00\'}',
            'HEALTHCHECK --interval=1m0s CMD ["/bin/check", "--fast"]',
        ),
        ('HEALTHCHECK &{["NONE"] "0s" "0s" "0s" \'\\x00\'}', "HEALTHCHECK NONE"),
        # docker import
        ("", ""),
    ],
)
def test_each_builder_format_reads_back_as_a_dockerfile_line(created_by: str, line: str) -> None:
    assert dockerfile_line(parse_created_by(created_by)) == line


def test_values_with_spaces_are_quoted_where_the_config_says_they_end() -> None:
    parsed = parse_created_by("/bin/sh -c #(nop)  LABEL a=b title=layerscan demo c=d")
    assert dockerfile_line(parsed, labels={"title": "layerscan demo", "a": "b"}) == (
        'LABEL a=b title="layerscan demo" c=d'
    )
    parsed = parse_created_by('ENV GREETING=say "hi" $HOME')
    assert dockerfile_line(parsed, env={"GREETING": 'say "hi" $HOME'}) == (
        'ENV GREETING="say \\"hi\\" \\$HOME"'
    )


def test_a_healthcheck_from_the_config_reads_like_the_one_from_the_history() -> None:
    config = {"Test": ["CMD-SHELL", "true"], "Interval": 30_000_000_000, "Retries": 2}
    assert healthcheck_config(config) == "--interval=30s --retries=2 CMD true"
    assert [go_duration(n) for n in (0, 1_500_000_000, 300 * 10**9, 3723 * 10**9)] == [
        "0s",
        "1.5s",
        "5m0s",
        "1h2m3s",
    ]


def test_a_line_that_is_not_in_a_builder_format_is_kept_as_it_was() -> None:
    assert go_strings('"a" junk "b"') is None
    assert dockerfile_line(parse_created_by("HEALTHCHECK &{not a struct}")) == (
        "HEALTHCHECK &{not a struct}"
    )
    assert dockerfile_line(parse_created_by('CMD ["unterminated]')) == 'CMD ["unterminated]'


_SHAPES = {
    "label words": ("/bin/sh -c #(nop)  LABEL ", "a "),
    "env pairs": ("/bin/sh -c #(nop)  ENV ", "k=v "),
    "env keys without values": ("/bin/sh -c #(nop)  ENV ", "k "),
    "healthcheck brackets": ("/bin/sh -c #(nop)  HEALTHCHECK &{[", '] "a" '),
    "cmd strings": ("/bin/sh -c #(nop)  CMD [", '"a" '),
    "exec form words": ("|1 A=b /bin/touch ", "x "),
    **created_by_lines(),
}


def _line_of(text: str) -> str:
    return dockerfile_line(parse_created_by(text), {"k": "v"}, {"a": "b"})


@pytest.mark.parametrize("shape", sorted(_SHAPES))
def test_a_hostile_line_reads_back_in_linear_time(shape: str) -> None:
    """1 MB of a line shaped against the conversions (longer ones stay as recorded)."""
    prefix, unit = _SHAPES[shape]
    result = timed(_line_of, (prefix + fill(unit, MB - len(prefix) - 64),), SECONDS_PER_MB)
    assert result.finished, f"{shape}: {result.error or 'too slow'}"
