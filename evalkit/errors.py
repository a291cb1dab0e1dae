"""Exceptions that carry a user-facing, one-line message."""


class EvalkitError(Exception):
    """Base class: a problem the user can fix; the CLI prints it without a traceback."""


class UsageError(EvalkitError):
    """Bad arguments: unknown codec or metric, impossible bitrate budget, bad dataset spec."""


class NotApplicable(Exception):  # noqa: N818 - it is an outcome, not a failure
    """A metric does not apply here (wrong domain, clip too short): recorded, not an error."""
