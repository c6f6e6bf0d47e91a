"""The one exception type services raise when a rule refuses a change."""


class DomainError(Exception):
    """A change the rules do not allow: `message` is the Korean sentence shown to the user,
    `code` a stable English slug for tests and logs, `field` the form field it concerns."""

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
