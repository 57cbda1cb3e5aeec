"""Typed errors raised by the store; the CLI turns each into one line on stderr."""


class StoreError(Exception):
    """Base for every error raised by `evidence_store`."""


class WorkspaceMissingError(StoreError):
    """No workspace exists at the given home (run `claimcheck init`)."""


class WorkspaceExistsError(StoreError):
    """`init` was asked to create a workspace where one already exists."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer claimcheck than this one."""


class StoreBusyError(StoreError):
    """Another process held the database lock longer than we are willing to wait."""


class StoreUnavailableError(StoreError):
    """The database or blob directory cannot be reached or written (down, read-only, disk full)."""


class BlobError(StoreError):
    """A blob is missing, incomplete or does not hash to its name."""


class SourceFileError(StoreError):
    """A file handed to the store cannot be read (missing, a directory, unreadable, empty)."""
