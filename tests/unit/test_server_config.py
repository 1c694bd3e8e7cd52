"""The server's configuration from the environment: the public address, cookies, proxies."""

from __future__ import annotations

from pathlib import Path

import pytest

from field_server.config import ServerConfig, public_address


def config(tmp_path: Path, **env: str) -> ServerConfig:
    return ServerConfig.from_env(
        {"FIELD_SERVER_DATA_DIR": str(tmp_path), "FIELD_SERVER_SECRET_KEY": "k", **env}
    )


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://qazba.museum.kz", "https://qazba.museum.kz"),
        ("https://qazba.museum.kz/", "https://qazba.museum.kz"),
        ("https://museum.kz/qazba/", "https://museum.kz/qazba"),
        ("http://192.168.1.20:8080", "http://192.168.1.20:8080"),
        ("  https://qazba.museum.kz  ", "https://qazba.museum.kz"),
    ],
)
def test_a_public_url_keeps_scheme_host_and_prefix(given: str, kept: str) -> None:
    assert public_address(given) == kept


@pytest.mark.parametrize(
    "bad",
    [
        "qazba.museum.kz",
        "ftp://qazba.museum.kz",
        "https://",
        "https://qazba.museum.kz/?lang=kk",
        "https://qazba.museum.kz/#top",
        "https://admin:secret@qazba.museum.kz",
        "https://qazba.museum.kz:port",
    ],
)
def test_a_public_url_no_one_could_reach_is_refused_in_words(bad: str) -> None:
    with pytest.raises(ValueError, match="FIELD_SERVER_PUBLIC_URL"):
        public_address(bad)


def test_without_a_public_url_links_follow_each_request_and_cookies_are_not_forced(
    tmp_path: Path,
) -> None:
    plain = config(tmp_path)
    assert plain.public_url is None
    assert plain.secure_cookies is False
    assert plain.trusted_proxies == 0


def test_an_https_public_url_makes_the_session_cookie_secure_unless_told_otherwise(
    tmp_path: Path,
) -> None:
    assert config(tmp_path, FIELD_SERVER_PUBLIC_URL="https://qazba.museum.kz").secure_cookies
    assert not config(tmp_path, FIELD_SERVER_PUBLIC_URL="http://10.0.0.5:5000").secure_cookies
    told = config(
        tmp_path,
        FIELD_SERVER_PUBLIC_URL="https://qazba.museum.kz",
        FIELD_SERVER_SECURE_COOKIES="false",
    )
    assert told.secure_cookies is False
    assert config(tmp_path, FIELD_SERVER_SECURE_COOKIES="yes").secure_cookies is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FIELD_SERVER_SECURE_COOKIES", "maybe"),
        ("FIELD_SERVER_TRUSTED_PROXIES", "-1"),
        ("FIELD_SERVER_TRUSTED_PROXIES", "all"),
        ("FIELD_SERVER_TRUSTED_PROXIES", "11"),
    ],
)
def test_a_setting_out_of_its_range_names_itself(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        config(tmp_path, **{name: value})


def test_the_number_of_trusted_proxies_is_read(tmp_path: Path) -> None:
    assert config(tmp_path, FIELD_SERVER_TRUSTED_PROXIES="2").trusted_proxies == 2
