"""The exception hierarchy: one class per failure a data engineer has to act on.

Each carries the place it concerns (file, resource, row, field) so that the message alone says
where to look. Nothing in citylake raises a bare `Exception` or exits the interpreter.
"""

from __future__ import annotations


class CitylakeError(Exception):
    """Base class of every error citylake raises on purpose."""


class ConfigurationError(CitylakeError):
    """Raised when the environment or settings name something impossible."""


class CatalogError(CitylakeError):
    """Raised when a catalog file is malformed; names the file, the resource and the field."""

    def __init__(self, message: str, *, file: str, resource: str | None = None, field: str | None = None):
        where = [f"file {file}"]
        if resource:
            where.append(f"resource {resource}")
        if field:
            where.append(f"field {field}")
        super().__init__(f"{', '.join(where)}: {message}")
        self.file, self.resource, self.field = file, resource, field


class UnknownRuleError(CatalogError):
    """Raised when a catalog item names a rule that is not registered."""


class ExportRejected(CitylakeError):
    """Raised when a landing file cannot be ingested at all (undecodable, unparseable header...).

    The file is rejected whole and moved aside; the message names the file and the byte offset or
    line where reading stopped.
    """

    def __init__(self, message: str, *, file: str, line: int | None = None, offset: int | None = None):
        where = f"file {file}"
        if line is not None:
            where += f", line {line}"
        if offset is not None:
            where += f", byte offset {offset}"
        super().__init__(f"{where}: {message}")
        self.reason, self.file, self.line, self.offset = message, file, line, offset

    def at(self, file: str) -> ExportRejected:
        """The same rejection naming `file` (the landing key, not the local copy that was read)."""
        moved = type(self)(self.reason, file=file, line=self.line, offset=self.offset)
        moved.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("file", "args")})
        return moved


class SchemaMismatch(ExportRejected):
    """Raised when an export's header does not match the catalog's data items (see `drift`)."""

    #: The drift report of the refused header, for the providing department.
    drift: object = None


class LedgerImbalance(CitylakeError):
    """Raised when rows read != rows accepted + rows quarantined for a batch: something was lost."""


class BadData(CitylakeError):
    """Base of failures that retrying cannot fix: the data must change (a department re-sends, or an
    engineer decides). Airflow tasks fail at once on these instead of burning their retries."""


class DirtyBatch(BadData):
    """Raised when a batch has more quarantined rows than the resource's error limit allows; its bad
    rows are quarantined (so the department can see them) but nothing of it reaches silver."""


class FilesRejected(BadData):
    """Raised by ingest, after every landing file was looked at, when some were rejected whole (moved to
    `rejected/` with a reason file): the department must correct and re-send them. The files that could be
    read are in bronze all the same; `outcomes` holds what became of each file."""

    def __init__(self, message: str, *, outcomes: list[dict]):
        super().__init__(message)
        self.outcomes = outcomes


class ValidationFailed(BadData):
    """Raised when an `error`-severity expectation fails: the batch must not be published."""


class NotReady(CitylakeError):
    """Raised when a step runs before the step it depends on left its completion record."""


class QueryError(CitylakeError):
    """Raised when `citylake sql` cannot run a query as written: a table the lake does not hold, SQL the
    engine cannot parse or bind, or a value it cannot convert. The message names the table or quotes the
    engine's complaint, so the analyst can fix the query (exit code 2, usage)."""

    def __init__(self, message: str, *, table: str | None = None):
        super().__init__(message)
        self.table = table


class ErasureRefused(CitylakeError):
    """Raised when an erasure request cannot be carried out as asked: a key the resource does not hold, a
    resource without personal items, a malformed resident ID, batches still in flight. Nothing was changed;
    the message names what was asked (never the value itself) and what to do (exit code 2, usage)."""


class ServiceUnavailable(CitylakeError):
    """Raised when a service citylake needs does not answer (the step server, an object store, a metastore):
    nothing is wrong with the data or the settings, so the same call may work later (exit code 4)."""


class JarResolutionError(CitylakeError):
    """Raised when the Delta Lake jars cannot be fetched; names the artifact and the reason."""


class PersonalDataLeak(BadData):
    """Raised when the scanner finds a resident ID or phone number in data about to be published."""
