"""The neutral answer every route returns; the HTTP layer turns it into bytes."""

import json
from typing import NamedTuple


class Reply(NamedTuple):
    status: int
    body: object = None
    headers: dict = {}
    content_type: str = "application/json"

    def encode(self):
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def redirect(location):
    return Reply(303, headers={"Location": location})


def html(text, status=200):
    return Reply(status, text, content_type="text/html; charset=utf-8")
