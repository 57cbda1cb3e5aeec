"""Typed errors of the workflow layer; each message is one line an investigator can act on."""


class CaseError(Exception):
    """Base for workflow errors."""


class UnknownCaseError(CaseError):
    pass


class UnknownItemError(CaseError):
    pass


class UnknownSiteError(CaseError):
    pass


class InputError(CaseError):
    """A value given on the command line is malformed or out of range."""


class WrongKindError(CaseError):
    """A file's content does not fit the evidence kind it was added as."""


class BundleError(CaseError):
    """An exchange bundle is malformed, unsafe, altered, or already imported."""
