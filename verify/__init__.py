"""Analysis only: pure functions on files, arrays and plain data.

Nothing here imports `cases` or `evidence_store`, nothing here prints, and every failure is a
`verify.errors.VerifyError` subclass the caller can turn into a one-line message.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
