"""The error a client command reports to a person: one line and a non-zero exit status."""

from __future__ import annotations

EXIT_FAILED = 1
EXIT_UNREACHABLE = 3
EXIT_NEEDS_YOU = 4


class ClientError(Exception):
    """A failure with a one-line reason for the person at the laptop; nothing was half-done."""

    exit_code = EXIT_FAILED

    def __init__(self, reason: str) -> None:
        # A reason that spans lines would break the one-line promise of every command.
        super().__init__(" ".join(reason.split()))

    @property
    def reason(self) -> str:
        return str(self)


class ServerUnreachable(ClientError):
    """The server did not answer (network down, refused, timed out) after every retry."""

    exit_code = EXIT_UNREACHABLE


class NeedsAttention(ClientError):
    """The sync ran, but records wait for a person: rejected ones to correct, conflicts to
    resolve (DESIGN §8: exit 4, listed by status and conflicts)."""

    exit_code = EXIT_NEEDS_YOU
