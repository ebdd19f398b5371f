"""RemoteMonitor: post each epoch's logs to an HTTP server."""

import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np

from lamina.callbacks._io_utils import is_chief
from lamina.callbacks.callback import Callback


class RemoteMonitor(Callback):
    """POST `{"epoch": epoch, **logs}` to `root + path` at each epoch end.

    Uses the standard library (`urllib`), so no extra package is needed. An
    unreachable server gives a warning, never an error.

    Args:
        root: Server address. Defaults to `"http://localhost:9000"`.
        path: Path the logs are posted to. Defaults to `"/publish/epoch/end/"`.
        field: Form field holding the JSON text (when not `send_as_json`).
            Defaults to `"data"`.
        headers: Optional dict of extra HTTP headers.
        send_as_json: Send the JSON as the request body
            (`application/json`) instead of a form field. Defaults to `False`.
    """

    def __init__(
        self,
        root="http://localhost:9000",
        path="/publish/epoch/end/",
        field="data",
        headers=None,
        send_as_json=False,
    ):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = headers
        self.send_as_json = send_as_json
        self.timeout = 10.0

    def _should_write(self) -> bool:
        """Only one process of a distributed run posts."""
        return is_chief()

    def on_epoch_end(self, epoch, logs=None):
        if not self._should_write():
            return
        send = {"epoch": epoch}
        for key, value in (logs or {}).items():
            send[key] = (
                value.item() if isinstance(value, (np.ndarray, np.generic)) else value
            )
        headers = dict(self.headers or {})
        if self.send_as_json:
            body = json.dumps(send).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(
            self.root + self.path, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError):
            warnings.warn(
                f"Could not reach RemoteMonitor root server at {self.root}",
                stacklevel=2,
            )
