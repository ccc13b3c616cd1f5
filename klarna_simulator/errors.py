"""Klarna's error answers, raised anywhere in the simulator and rendered by the HTTP layer."""


class KlarnaError(Exception):
    """An answer in Klarna's error format: ``{error_code, error_messages, correlation_id}``.

    ``headers`` adds response headers (``Retry-After``); ``invalid_fields`` is kept
    out of the API body and shown only to the SDK stand-in, like Klarna's widget.
    """

    def __init__(self, status, code, messages, *, headers=None, invalid_fields=()):
        self.status = status
        self.code = code
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.headers = dict(headers or {})
        self.invalid_fields = list(invalid_fields)
        super().__init__(f"{status} {code}: {'; '.join(self.messages)}")

    def body(self, correlation_id):
        return {
            "error_code": self.code,
            "error_messages": self.messages,
            "correlation_id": correlation_id,
        }


def bad_value(problems):
    """400 BAD_VALUE from ``[(field, rule), ...]``, one message per broken rule."""
    fields = list(dict.fromkeys(field for field, _ in problems))
    messages = [f"Bad value: {field}: {rule}" for field, rule in problems]
    return KlarnaError(400, "BAD_VALUE", messages, invalid_fields=fields)


def not_found(what):
    return KlarnaError(404, "NOT_FOUND", f"{what} not found")


def not_allowed(code, message):
    """Klarna answers a forbidden state transition with 403 and a ``*_NOT_ALLOWED`` code."""
    return KlarnaError(403, code, message)
