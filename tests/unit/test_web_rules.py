"""The review UI's small rules: where a sign-in may lead, and the content security policy."""

from __future__ import annotations

from field_server.web import content_security_policy
from field_server.web.signed_in import local_target


def test_only_a_local_path_is_followed() -> None:
    assert local_target("/finds/abc?x=1", "/") == "/finds/abc?x=1"
    for target in ("//evil.example", "https://evil.example/", "/\\evil", "javascript:x", "", None):
        assert local_target(target, "/") == "/"


def test_the_policy_allows_no_inline_script_and_names_the_tile_host() -> None:
    plain = content_security_policy(None)
    assert "script-src 'self';" in plain
    assert "unsafe" not in plain
    assert "img-src 'self' data:;" in plain
    tiles = content_security_policy("https://{s}.tile.example.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https://*.tile.example.org;" in tiles
