"""Typed errors raised by the analysis functions.

Each carries a message fit to show an investigator on one line; the CLI adds nothing but the path.
"""


class VerifyError(Exception):
    """Base for every error raised by `verify`."""


class UnreadableMediaError(VerifyError):
    """The file cannot be decoded as the media it claims to be (corrupt, truncated, empty)."""


class UnsupportedMediaError(VerifyError):
    """The file is of a type this analysis does not handle."""


class MediaTooLargeError(VerifyError):
    """The file declares dimensions or a length beyond what we will decode (decompression bomb)."""


class MetadataError(VerifyError):
    """Metadata is present but cannot be parsed into valid values."""


class InvalidValueError(VerifyError):
    """A caller-supplied value (coordinate, date, threshold) is out of range."""
