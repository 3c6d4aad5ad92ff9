"""Issue 19, class 1. Time: super-linear work on crafted text (a rule, a parser or an overlap check
that is not linear in its input).

Each case is sized so that the code it was written against ran for minutes on it (well past
the oracle's wall-clock bound), and each still has to report what it plants: a crafted file
must not blind the scan to the secrets around it. The rules' own bound, on every shape built
from their examples, is tests/detect/test_time_bound.py.
"""

from __future__ import annotations

import hashlib
import random
import string
import tarfile
from pathlib import Path
from typing import Any

from fixtures.credentials import checksummed_token
from layerscan.detect.noise import is_noise
from tests.hostile import builders as b
from tests.hostile.corpus import (
    Case,
    Check,
    all_of,
    finding,
    findings_count,
    save,
    save_bytes,
    secret_layer,
)

ROUND = 2
FINDINGS = frozenset({1})
UNREADABLE = frozenset({2})


def _fabricated(seed: int, length: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


def _rule_found(rule: str, path: str) -> Check:
    """A finding of `rule` at `path` (for secrets that are not the planted GitHub tokens)."""

    def check(observed: Any) -> None:
        found = {(f["rule"], f["path"]) for f in observed.report["findings"]}
        assert (rule, path) in found, f"expected {rule} at {path}; found {sorted(found)[:8]}"

    return check


# --- the history parser ---------------------------------------------------------------------

SHELL_OPTIONS = 40
"""`-o` options before `-c`: the parser's regular expression tried both readings of each
(`-o NAME` and `-o` alone), 2**40 paths."""
BUILD_ARGS = 150_000
"""`|N K=V ...` pairs on one line: each was split off by copying the rest of the line."""


def build_history_lines(work: Path) -> str:
    layer = b.plain_layer([b.regular("app/history.env", b.secret_file("time-history"))])
    options = " ".join(["-o"] * SHELL_OPTIONS)
    arguments = " ".join(f"A{number}=b" for number in range(BUILD_ARGS))
    history = [
        {"created_by": "/bin/sh -c #(nop) COPY file:time in / "},
        {"created_by": f"/bin/sh {options} x true", "empty_layer": True},
        {"created_by": f"|{BUILD_ARGS} {arguments} /bin/sh -c true", "empty_layer": True},
        {"created_by": "RUN /bin/sh -o " * 20_000 + " # buildkit", "empty_layer": True},
    ]
    return save(work, [layer], history=history)


# --- rules on crafted files -----------------------------------------------------------------

KUBE_KEYS = 250
KUBE_BLANK_LINES = 8_000


def _kube_token(number: int) -> str:
    """A fabricated token that spells none of the noise filter's words ("tbd", "fake"...):
    a kubeconfig token has no checksum to vouch for it, so one that did would be dropped."""
    seed = 100 + number
    while is_noise(token := _fabricated(seed, 48)):
        seed += 1000
    return token


def build_kubeconfig_blank_lines(work: Path) -> str:
    """A kubeconfig of 250 users, 8,000 blank lines between each name and its `user:` key:
    `^\\s*token:` started at every blank line and read all the blank lines after it before
    failing on `user:` (the prefilter's windows around the tokens cover them)."""
    users = "".join(
        f"- name: user{number}\n"
        + "\n" * KUBE_BLANK_LINES
        + f"  user:\n    token: {_kube_token(number)}\n"
        for number in range(KUBE_KEYS)
    )
    config = "apiVersion: v1\nusers:\n" + users
    layer = b.plain_layer(
        [
            b.regular("root/.kube/config", config.encode()),
            b.regular("app/kube.env", b.secret_file("time-kube")),
        ]
    )
    return save(work, [layer])


def _every_kube_token_found(observed: Any) -> None:
    wanted = {hashlib.sha256(_kube_token(n).encode()).hexdigest() for n in range(KUBE_KEYS)}
    found = {
        f["secret_sha256"]
        for f in observed.report["findings"]
        if f["rule"] == "kubeconfig-token" and f["path"] == "/root/.kube/config"
    }
    assert found == wanted, f"{len(found & wanted)} of {KUBE_KEYS} kubeconfig tokens reported"


CHPASSWD_LINES = 1_000
CHPASSWD_PASSWORD = _fabricated(2, 14)


def build_chpasswd_near_misses(work: Path) -> str:
    """A setup script where every real `echo 'root:...' | chpasswd` follows four lines that
    each hold a 2,000-character run of user-name characters before a `:` and no chpasswd:
    the rule read each run again from every character of it, and the prefilter's windows
    around the real lines covered them all."""
    near_miss = "echo '" + "a" * 2_000 + ":Vq8fZt2LmN4p' | true\n"
    real = f"echo 'root:{CHPASSWD_PASSWORD}' | chpasswd\n"
    script = (near_miss * 4 + real) * CHPASSWD_LINES
    layer = b.plain_layer(
        [
            b.regular("usr/local/bin/setup.sh", script.encode()),
            b.regular("app/chpasswd.env", b.secret_file("time-chpasswd")),
        ]
    )
    return save(work, [layer])


def _every_chpasswd_line_found(observed: Any) -> None:
    lines = {
        f["line"]
        for f in observed.report["findings"]
        if f["rule"] == "chpasswd-password" and f["path"] == "/usr/local/bin/setup.sh"
    }
    assert lines == {5 * n for n in range(1, CHPASSWD_LINES + 1)}, (
        f"{len(lines)} of {CHPASSWD_LINES} chpasswd lines reported"
    )


KEYWORD_LINES = 20_000


def build_keyword_runs(work: Path) -> str:
    """Lines of `secretsecret...secret = vN` (distinct, so no line is judged twice): the
    keyword plugin's patterns started at each of the 80 words and read to the run's end,
    40 ms a line, 13 minutes for the file."""
    text = "".join(f"{'secret' * 80} = v{number}\n" for number in range(KEYWORD_LINES))
    layer = b.plain_layer(
        [
            b.regular("srv/app/words.cfg", text.encode()),
            b.regular("srv/app/keyword.env", b.secret_file("time-keyword")),
        ]
    )
    return save(work, [layer])


DENSE_RUN = 20 << 20


def build_dense_run(work: Path) -> str:
    """One 20 MB line that a rule's prefilter pattern could end a match at on every offset
    (a PyPI token prefix, then token characters): twenty million callbacks and offsets."""
    text = "pypi-AgE" + "A" * DENSE_RUN + "\n" + b.secret_file("time-dense").decode()
    layer = b.plain_layer([b.regular("srv/dense.txt", text.encode())])
    return save(work, [layer])


DISTINCT_TOKENS = 20_000


def _distinct_token_line() -> str:
    rng = random.Random(3)
    return " ".join(checksummed_token("ghp_", rng) for _ in range(DISTINCT_TOKENS))


def build_many_secrets_one_line(work: Path) -> str:
    """Twenty thousand distinct tokens on one line: each match was compared with every match
    kept before it (quadratic in the number of secrets)."""
    layer = b.plain_layer(
        [
            b.regular("srv/tokens.txt", (_distinct_token_line() + "\n").encode()),
            b.regular("srv/one.env", b.secret_file("time-distinct")),
        ]
    )
    return save(work, [layer])


def _every_distinct_token_found(observed: Any) -> None:
    findings = observed.report["findings"]
    found = {f["secret_sha256"] for f in findings if f["path"] == "/srv/tokens.txt"}
    assert len(found) == DISTINCT_TOKENS, f"{len(found)} of {DISTINCT_TOKENS} tokens reported"


# --- the outer container --------------------------------------------------------------------

PAX_DIGITS = 600_000


def build_outer_pax_digits(work: Path) -> str:
    """A `docker save` whose first member has a pax header holding a 600,000-digit run:
    tarfile's `\\d+ hdrcharset=` search costs the square of such a run (CVE-2024-6232)."""
    note = tarfile.TarInfo("note.txt")
    note.pax_headers = {"comment": "7" * PAX_DIGITS}
    members = b.docker_save([secret_layer("time-pax")])
    return save_bytes(work, note.tobuf(tarfile.PAX_FORMAT) + b.tar_bytes(members))


CASES: tuple[Case, ...] = (
    Case(
        "time-history-lines",
        1,
        "history: 40 `-o` options before -c, 150,000 build args, 20,000 `RUN /bin/sh -o`",
        build_history_lines,
        FINDINGS,
        finding("time-history", "/app/history.env", 0),
        issue_round=ROUND,
    ),
    Case(
        "time-kubeconfig-blank-lines",
        1,
        "a kubeconfig of 250 users, 8,000 blank lines before each `user:` key",
        build_kubeconfig_blank_lines,
        FINDINGS,
        all_of(
            finding("time-kube", "/app/kube.env", 0),
            _every_kube_token_found,
        ),
        issue_round=ROUND,
    ),
    Case(
        "time-chpasswd-near-misses",
        1,
        "1,000 chpasswd lines, each after four with 2,000-character user names and no chpasswd",
        build_chpasswd_near_misses,
        FINDINGS,
        all_of(
            finding("time-chpasswd", "/app/chpasswd.env", 0),
            _every_chpasswd_line_found,
        ),
        issue_round=ROUND,
    ),
    Case(
        "time-keyword-runs",
        1,
        "20,000 distinct lines of 80 `secret` words before an assignment",
        build_keyword_runs,
        FINDINGS,
        finding("time-keyword", "/srv/app/keyword.env", 0),
        issue_round=ROUND,
    ),
    Case(
        "time-dense-prefilter",
        1,
        "one 20 MB line a rule's prefilter pattern may end a match at on every offset",
        build_dense_run,
        FINDINGS,
        all_of(
            finding("time-dense", "/srv/dense.txt", 0),
            _rule_found("pypi-token", "/srv/dense.txt"),
        ),
        issue_round=ROUND,
    ),
    Case(
        "time-many-secrets-one-line",
        1,
        "20,000 distinct tokens on one line",
        build_many_secrets_one_line,
        FINDINGS,
        all_of(
            findings_count("time-distinct", 1),
            _every_distinct_token_found,
        ),
        issue_round=ROUND,
    ),
    Case(
        "time-outer-pax-digits",
        1,
        "the image tarball's first pax header holds a 600,000-digit run",
        build_outer_pax_digits,
        UNREADABLE,
        lambda observed: None,
        readable=False,
        issue_round=ROUND,
    ),
)
