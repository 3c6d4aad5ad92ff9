"""Adversarial texts for the time bound (issue 19, class 1), and a way to time a scan of them
that cannot hang the test run.

A rule or a parser that is not linear in its input shows it on text built from its own
examples: an example repeated with no room between copies, a near miss (every prefix of an
example, repeated: each copy starts a match attempt that fails late), one character of the
example run on for thousands of characters in place, or the example's words pulled apart by
thousands of blank lines or spaces. The shapes are built from the examples, not written per
rule, so a rule added later (or a user's --rules file) is covered the day it is added.

The secrets in the detect-secrets samples are fabricated here from a fixed seed.
"""

from __future__ import annotations

import multiprocessing
import random
import string
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from layerscan.detect.engine import Engine
from layerscan.detect.rules import Rule
from layerscan.detect.secrets_core import SecretsCore

MB = 1 << 20
SECONDS_PER_MB = 3.0
"""The bound the README states for text crafted against a rule or parser, per MB, at 1 MB
and at 10 MB: several times what the slowest needs on the 2-core benchmark machine."""
SCREEN_SIZE = 64 << 10
"""Shapes are ranked at this size; the slowest are then timed at 1 and 10 MB."""


def _kind(character: str) -> str:
    if character.isalpha():
        return "letter"
    if character.isdigit():
        return "digit"
    if character in " \t":
        return "blank"
    if character == "\n":
        return "newline"
    return character  # each punctuation mark is a kind of its own


MAX_CUTS = 24
"""Cut points per example: a key block changes kind of character at every other offset, and
a few hundred shapes of one base64 run teach nothing a couple of dozen do not."""


def _boundaries(example: str) -> list[int]:
    """Offsets where the example changes kind of character (and its start): where a pattern's
    parts meet, so where a near miss or a long run does the most damage. At most MAX_CUTS,
    the first ones (where a pattern's fixed prefix ends) and then spread evenly."""
    cuts = [0]
    cuts += [i for i in range(1, len(example)) if _kind(example[i]) != _kind(example[i - 1])]
    if len(cuts) <= MAX_CUTS:
        return cuts
    head, rest = cuts[: MAX_CUTS // 2], cuts[MAX_CUTS // 2 :]
    step = len(rest) / (MAX_CUTS - len(head))
    return head + [rest[int(n * step)] for n in range(MAX_CUTS - len(head))]


def shapes(examples: Iterable[str], run: int = 4096) -> dict[str, str]:
    """Units to repeat into an adversarial text, named by shape, from a pattern's examples."""
    units: dict[str, str] = {}
    for n, example in enumerate(list(examples)[:2]):
        for separator_name, separator in (("glued", ""), ("spaced", " "), ("lines", "\n")):
            units[f"example{n}-repeated-{separator_name}"] = example + separator
        cuts = _boundaries(example)
        for cut in [*cuts[1:], len(example) - 1]:
            near_miss = example[:cut]
            units[f"example{n}-prefix{cut}-glued"] = near_miss
            units[f"example{n}-prefix{cut}-spaced"] = near_miss + " "
        for cut in cuts:
            character = example[cut]
            units[f"example{n}-run{cut}"] = example[:cut] + character * run + example[cut:] + "\n"
            units[f"example{n}-endless{cut}"] = example[:cut] + character * (run * 64)
        words = example.split(" ")
        if len(words) > 1:
            units[f"example{n}-blank-lines"] = ("\n" * run).join(words) + "\n"
            units[f"example{n}-wide-spaces"] = (" " * run).join(words) + "\n"
    return {name: unit for name, unit in units.items() if unit}


def rule_scanners(rule: Rule) -> dict[str, Callable[[str], object]]:
    """The two ways a scan runs a rule: through the engine (Hyperscan prefilter, windows) and
    its regular expression over the whole text (where the prefilter cannot take it, and for
    texts too dense for it). The engine's prefilter is compiled here, before any timing."""
    engine = Engine([rule], None)
    path = next(
        (p for p in ("/root/.kube/config", "/root/.netrc") if rule.applies_to(p)), "/etc/app.conf"
    )
    with engine.session():
        engine.scan_text("warm up", "adversarial.txt", path)
        assert engine.prefilter is not None or not engine.uses_prefilter

    def through_engine(text: str) -> object:
        with engine.session():
            return engine.scan_text(text, "adversarial.txt", path)

    def whole_text(text: str) -> object:
        return list(rule.find(text))

    return {"engine": through_engine, "regex": whole_text}


def plugin_scanners() -> dict[str, Callable[[str], object]]:
    """The engine with detect-secrets' plugins and none of our rules, with its prefilter
    (compiled here) and without it: the path of a platform without Hyperscan, and of every
    text an engine scans before its prefilter is worth compiling (a small image's files)."""
    scanners: dict[str, Callable[[str], object]] = {}
    for name, prefilter in (("engine", True), ("unfiltered", False)):
        engine = Engine([], SecretsCore(), prefilter=prefilter)
        with engine.session():
            engine.scan_text("warm up", "adversarial.txt")
            assert (engine.prefilter is not None) == (prefilter and engine.uses_prefilter)

        def through_engine(text: str, engine: Engine = engine) -> object:
            with engine.session():
                return engine.scan_text(text, "adversarial.txt")

        scanners[name] = through_engine
    return scanners


def fill(unit: str, size: int) -> str:
    """`unit` repeated to exactly `size` characters."""
    return (unit * (size // len(unit) + 1))[:size]


def _fabricated(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def plugin_samples(seed: int = 20261206) -> dict[str, list[str]]:
    """For each detect-secrets plugin layerscan runs, lines it reports (fabricated values)."""
    rng = random.Random(seed)
    alnum = string.ascii_letters + string.digits
    hexdigits = "0123456789abcdef"
    b64 = alnum + "+/"
    return {
        "Secret Keyword": [
            f'db_password = "{_fabricated(rng, alnum, 14)}"',
            f"private_key = '{_fabricated(rng, alnum, 16)}'",
        ],
        "Base64 High Entropy String": [f'blob = "{_fabricated(rng, b64, 44)}"'],
        "Hex High Entropy String": [f"digest = '{_fabricated(rng, hexdigits, 48)}'"],
        "Artifactory Credentials": [f"artifactory: AKC{_fabricated(rng, alnum, 69)}"],
        "Cloudant Credentials": [f'cloudant_password = "{_fabricated(rng, hexdigits, 64)}"'],
        "Discord Bot Token": [
            "M"
            + _fabricated(rng, alnum, 23)
            + "."
            + _fabricated(rng, alnum, 6)
            + "."
            + _fabricated(rng, alnum, 27)
        ],
        "IBM Cloud IAM Key": [f'ibm_cloud_iam_api_key = "{_fabricated(rng, alnum, 44)}"'],
        "IBM COS HMAC Credentials": [
            f'ibm_cos_secret_access_key = "{_fabricated(rng, hexdigits, 48)}"'
        ],
        "Mailchimp Access Key": [f"key = {_fabricated(rng, hexdigits, 32)}-us12"],
        "SoftLayer Credentials": [f'softlayer_api_key = "{_fabricated(rng, hexdigits, 64)}"'],
        "Square OAuth Secret": [f"square: sq0csp-{_fabricated(rng, alnum, 43)}"],
        "Telegram Bot Token": [
            f"bot = {rng.randrange(10**8, 10**9)}:{_fabricated(rng, alnum + '_-', 35)}"
        ],
    }


def created_by_lines() -> dict[str, tuple[str, str]]:
    """History lines (`created_by`) shaped against the instruction parser: a prefix, then a
    unit repeated to the size wanted."""
    return {
        "shell-options": ("/bin/sh ", "-o "),
        "shell-options-and-flags": ("/bin/bash ", "-o -e -o pipefail -x "),
        "shell-options-no-space-after-c": ("/bin/sh ", "-o -c"),
        "build-args": ("|9999999 ", "A=b "),
        "build-args-of-one-token": ("|3 ", "A=b" * 3),
        "build-args-then-shell-options": ("|2 A=b C=d /bin/sh ", "-o "),
        "nop-blanks": ("/bin/sh -c #(nop) ", " "),
        "buildkit-suffixes": ("RUN ", "/bin/sh -c true # buildkit "),
        "content-hashes": ("COPY ", "file:" + "0123456789abcdef" * 4 + " "),
        "keywords": ("ENV ", "ENV "),
    }


def screen(
    scan: Callable[[str], object], units: dict[str, str], size: int
) -> list[tuple[float, str]]:
    """Seconds `scan` takes on each unit filled to `size`, slowest first."""
    found = []
    for name, unit in units.items():
        text = fill(unit, size)
        started = time.perf_counter()
        scan(text)
        found.append((time.perf_counter() - started, name))
    return sorted(found, reverse=True)


@dataclass(frozen=True)
class Timing:
    """How long a call took in a child process (and what it returned), or that it ran past
    the timeout."""

    seconds: float | None
    error: str | None = None
    value: Any = None

    @property
    def finished(self) -> bool:
        return self.seconds is not None and self.error is None


def _child(connection: Any, work: Callable[..., object], args: Sequence[object]) -> None:
    try:
        started = time.perf_counter()
        value = work(*args)
        connection.send((time.perf_counter() - started, None, value))
    except BaseException as exc:  # reported to the parent, which fails the test with it
        connection.send((None, f"{type(exc).__name__}: {str(exc)[:300]}", None))
    finally:
        connection.close()


def timed(work: Callable[..., object], args: Sequence[object], timeout: float) -> Timing:
    """Run work(*args) in a forked child and time it (its return value must pickle); a child
    still running at `timeout` is
    killed (a regular expression in C cannot be interrupted from Python, so a quadratic one
    would otherwise hold the test run for hours)."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, work, args), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            return Timing(None)
        seconds, error, value = receiver.recv()
        return Timing(seconds, error, value)
    except EOFError:
        return Timing(None, f"the child died (exit code {child.exitcode})")
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
