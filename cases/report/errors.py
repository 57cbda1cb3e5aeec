"""Typed errors of report writing; the CLI shows each as one line (they are CaseErrors)."""

from cases.errors import CaseError


class ReportError(CaseError):
    """A report cannot be written (format unavailable, output not writable)."""
