"""Third-party code is told by place, package archive and the image's package database."""

from __future__ import annotations

from layerscan.detect.vendored import PackageFiles, is_vendored


def _dpkg(*paths: str) -> PackageFiles:
    packages = PackageFiles()
    packages.learn("/var/lib/dpkg/info/libpam-modules.list", ("\n".join(paths) + "\n").encode())
    return packages


def test_places_of_third_party_code() -> None:
    none = PackageFiles()
    assert is_vendored("/usr/lib/python3/dist-packages/x/tests/key.pem", none)
    assert is_vendored("/srv/app/node_modules/pkg/test/token.txt", none)
    assert is_vendored("/usr/share/doc/openssl/README", none)
    assert not is_vendored("/srv/app/config.yml", none)


def test_members_of_package_archives_are_vendored() -> None:
    none = PackageFiles()
    assert is_vendored("/wheels/botocore-1.0-py3-none-any.whl", none, "botocore/data/x.json")
    assert is_vendored("/opt/app.jar", none, "BOOT-INF/lib/x.jar!node_modules/y/z.js")
    assert not is_vendored("/opt/app.jar", none, "BOOT-INF/classes/application.properties")


def test_dpkg_lists_with_merged_usr_and_compiled_python() -> None:
    packages = _dpkg("/lib/x86_64-linux-gnu/security/pam_exec.so", "/usr/lib/python3.11/shlex.py")
    assert is_vendored("/usr/lib/x86_64-linux-gnu/security/pam_exec.so", packages)
    assert is_vendored("/usr/lib/python3.11/__pycache__/shlex.cpython-311.pyc", packages)
    assert not is_vendored("/usr/lib/python3.11/__pycache__/mine.cpython-311.pyc", packages)


def test_apk_database() -> None:
    packages = PackageFiles()
    packages.learn("/lib/apk/db/installed", b"P:musl\nF:lib\nR:ld-musl-x86_64.so.1\n")
    assert is_vendored("/lib/ld-musl-x86_64.so.1", packages)
