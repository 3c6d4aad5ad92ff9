"""History lines shaped against detect/history.py: every secret reported once, in bounded time."""

from __future__ import annotations

import random

from fixtures.credentials import checksummed_token
from layerscan.detect.engine import Engine
from layerscan.detect.history import MetadataHit, scan_history
from layerscan.detect.rules import builtin_rules
from layerscan.image.model import HistoryEntry, Image
from tests.support.adversarial import SECONDS_PER_MB, timed

PAIRS = 20_000


def _image(created_by: str) -> Image:
    return Image(None, None, None, None, "test", "test", (), (HistoryEntry(0, created_by),), {})


def _scan(image: Image) -> list[tuple[str, str]]:
    engine = Engine(builtin_rules(), None)
    with engine.session():
        hits: list[MetadataHit] = scan_history(image, engine)
    return [(hit.key, hit.match.secret) for hit in hits]


def test_an_env_line_of_many_secrets_reports_each_once_in_bounded_time() -> None:
    """Issue 19, class 1: 20,000 KEY=token pairs on one ENV line. Each pair's finding was
    compared with every match of the whole line (400 million substring tests)."""
    rng = random.Random(7)
    tokens = [checksummed_token("ghp_", rng) for _ in range(PAIRS)]
    line = "/bin/sh -c #(nop)  ENV " + " ".join(f"T{n}={t}" for n, t in enumerate(tokens))
    result = timed(_scan, (_image(line),), SECONDS_PER_MB * 10)
    assert result.finished, result.error or "scan_history took over 30 s"
    by_secret: dict[str, set[str]] = {}
    for key, secret in result.value:
        by_secret.setdefault(secret, set()).add(key)
    assert set(by_secret) == set(tokens)
    assert all(keys == {f"ENV T{n}"} for n, keys in enumerate(by_secret[t] for t in tokens))


def test_command_line_credentials_are_found_in_the_config_and_the_history() -> None:
    """Issue 13: credentials passed as flags, where images keep them (fabricated values)."""
    from layerscan.detect.history import scan_config

    config = {
        "config": {
            "Healthcheck": {
                "Test": ["CMD-SHELL", "curl -fsu admin:S3cr3tHcPw9 http://localhost/h"]
            },
            "Cmd": ["redis-cli", "-a", "Rd5PwQz8Lk2m", "monitor"],
            "Entrypoint": ["sh", "-c", "sshpass -p Ss7Hp4Wd2Qx9 ssh deploy@backup"],
            "Env": ["PGPASSWORD=Pg3Xw9Lk2Vq8"],
        }
    }
    history = (
        HistoryEntry(0, "/bin/sh -c docker login -u ci -p Dk4Rg7Pw2Mn5 registry.example.com"),
        HistoryEntry(
            1, "RUN /bin/sh -c htpasswd -cb /etc/nginx/.htpasswd ops Ht8Bx3Pw6Lq1 # buildkit"
        ),
        HistoryEntry(2, "/bin/sh -c mysqladmin -u root -pMq2Sq9Lx4Pw7 create app"),
    )
    image = Image(None, None, None, None, "test", "test", (), history, config)
    engine = Engine(builtin_rules(), None)
    with engine.session():
        found = {
            (hit.key, hit.match.rule.id, hit.match.secret) for hit in scan_config(image, engine)
        }
        found |= {(h.key, h.match.rule.id, h.match.secret) for h in scan_history(image, engine)}
    assert {
        ("Healthcheck", "curl-user-credentials", "S3cr3tHcPw9"),
        ("Cmd", "redis-cli-password", "Rd5PwQz8Lk2m"),
        ("Entrypoint", "sshpass-password", "Ss7Hp4Wd2Qx9"),
        ("RUN", "docker-login-password", "Dk4Rg7Pw2Mn5"),
        ("RUN", "htpasswd-batch-password", "Ht8Bx3Pw6Lq1"),
        ("RUN", "mysql-password-flag", "Mq2Sq9Lx4Pw7"),
    } <= found
    assert any(key == "Env.PGPASSWORD" and secret == "Pg3Xw9Lk2Vq8" for key, _, secret in found)
