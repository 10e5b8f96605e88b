"""Turnpike's client helper for Python agents: session and timing headers, and the sessions API.

Standard library only, Python 3.9 or newer. Copy this file next to your agent, or put
``client/python`` on ``PYTHONPATH``::

    from turnpike_session import SessionContext

    ctx = SessionContext(task_id="fix-flaky-test", client_id="my-agent")
    ctx.set_timing(pre_ms=120, post_ms=35)  # the agent's own time around the next call
    requests.post(url, json=body, headers=ctx.get_headers())  # or any OpenAI SDK's extra headers
"""

from __future__ import annotations

import json
import math
import types
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

__all__ = ["DEFAULT_HEADERS_CONFIG", "SessionContext", "SessionsClient", "TurnpikeError"]

#: The gateway's default header names (its ``headers:`` config keys and defaults).
DEFAULT_HEADERS_CONFIG: Mapping[str, str] = types.MappingProxyType(
    {
        "session": "X-Session-ID",
        "task": "X-Task-ID",
        "client": "X-Client-ID",
        "timing_pre": "X-Timing-Pre-Ms",
        "timing_post": "X-Timing-Post-Ms",
    }
)

Number = Union[int, float]


def _milliseconds(name: str, value: Optional[Number]) -> Optional[Number]:
    """A timing as kept: None for no value (or one the gateway would not read)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of milliseconds or None, not {value!r}")
    if not math.isfinite(value) or value < 0:
        return None
    return value


def _header_value(ms: Number) -> str:
    """Milliseconds as the TypeScript helper writes them: at most 3 decimals, no trailing zeros."""
    return ("%.3f" % ms).rstrip("0").rstrip(".")


class SessionContext:
    """One agent conversation's identity and timing, as request headers.

    ``session_id``, ``task_id`` and ``client_id`` are plain attributes; ``get_headers()`` reads
    them and the latest ``set_timing()`` on each call, so build the headers per request.
    """

    def __init__(
        self,
        session_id: Optional[str] = None,
        task_id: Optional[str] = None,
        client_id: Optional[str] = None,
        headers_config: Optional[Mapping[str, str]] = None,
    ) -> None:
        unknown = sorted(set(headers_config or {}) - set(DEFAULT_HEADERS_CONFIG))
        if unknown:
            raise ValueError(
                f"Unknown headers_config keys {unknown}; "
                f"use the gateway's headers: names {', '.join(DEFAULT_HEADERS_CONFIG)}"
            )
        self.session_id: str = str(session_id) if session_id is not None else str(uuid.uuid4())
        self.task_id: Optional[str] = task_id
        self.client_id: Optional[str] = client_id
        self.headers_config: Dict[str, str] = {**DEFAULT_HEADERS_CONFIG, **(headers_config or {})}
        self.pre_ms: Optional[Number] = None
        self.post_ms: Optional[Number] = None

    def set_timing(self, pre_ms: Optional[Number] = None, post_ms: Optional[Number] = None) -> None:
        """Sets the agent's time around the next call, in ms; one left out (None) is cleared.

        ``pre_ms`` is the time before the call (tool runs, prompt building), ``post_ms`` the time
        after the previous answer (parsing it, acting on it).
        """
        self.pre_ms = _milliseconds("pre_ms", pre_ms)
        self.post_ms = _milliseconds("post_ms", post_ms)

    def get_headers(self) -> Dict[str, str]:
        """A new dict of the headers to send with the next call."""
        names = self.headers_config
        headers = {names["session"]: self.session_id}
        if self.task_id is not None:
            headers[names["task"]] = str(self.task_id)
        if self.client_id is not None:
            headers[names["client"]] = str(self.client_id)
        if self.pre_ms is not None:
            headers[names["timing_pre"]] = _header_value(self.pre_ms)
        if self.post_ms is not None:
            headers[names["timing_post"]] = _header_value(self.post_ms)
        return headers

    def __repr__(self) -> str:
        return (
            f"SessionContext(session_id={self.session_id!r}, task_id={self.task_id!r}, "
            f"client_id={self.client_id!r})"
        )


class TurnpikeError(Exception):
    """A gateway answer that is not a success: its HTTP status and OpenAI-shaped error body."""

    def __init__(self, status: int, body: Dict[str, Any]) -> None:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        self.status = status
        self.body = body
        self.message: str = str(error.get("message") or f"HTTP {status}")
        self.type: Optional[str] = error.get("type")
        self.code: Optional[str] = error.get("code")
        self.param: Optional[str] = error.get("param")
        super().__init__(f"{status} {self.message}")


def _error_body(text: str) -> Dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body
    return {"error": {"message": text, "type": "api_error", "param": None, "code": None}}


class SessionsClient:
    """A small client of turnpike's ``/v1/sessions`` API: the gateway keeps the history, so each
    turn sends only its new message.

    With a ``context``, every call carries its task, client and timing headers (its session header
    is left out: the URL names the session).
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:5800",
        api_key: Optional[str] = None,
        context: Optional[SessionContext] = None,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.context = context
        self.timeout = timeout

    def create(self, model: str, **fields: Any) -> Dict[str, Any]:
        """Creates a session; ``fields`` are the other body fields (system, metadata, ttl_seconds,
        on_busy, compression, limits, task_id, client_id)."""
        return self._json("POST", "/v1/sessions", {"model": model, **fields})

    def get(self, session_id: str) -> Dict[str, Any]:
        """The session ``session_id``."""
        return self._json("GET", self._path(session_id))

    def delete(self, session_id: str) -> Dict[str, Any]:
        """Deletes the session and its turns."""
        return self._json("DELETE", self._path(session_id))

    def cancel(self, session_id: str) -> Dict[str, Any]:
        """Cancels the turn in flight; its partial reply is kept."""
        return self._json("POST", self._path(session_id) + "/cancel")

    def turn(
        self,
        session_id: str,
        message: Union[str, Dict[str, Any], None] = None,
        messages: Optional[List[Dict[str, Any]]] = None,
        **params: Any,
    ) -> Dict[str, Any]:
        """Takes one turn (``message`` or ``messages``, plus chat params); its chat.completion."""
        body = self._turn_body(message, messages, params, stream=False)
        return self._json("POST", self._path(session_id) + "/chat", body)

    def stream_turn(
        self,
        session_id: str,
        message: Union[str, Dict[str, Any], None] = None,
        messages: Optional[List[Dict[str, Any]]] = None,
        **params: Any,
    ) -> Iterator[Dict[str, Any]]:
        """Takes one turn and yields its chat.completion.chunk dicts.

        A refusal raises here; a failure mid-stream raises from the iteration (status 502).
        """
        body = self._turn_body(message, messages, params, stream=True)
        response = self._open("POST", self._path(session_id) + "/chat", body)
        return _sse_events(response)

    def history(
        self, session_id: str, limit: int = 20, include_sent: bool = False
    ) -> Iterator[Dict[str, Any]]:
        """Every turn of the session, oldest first, fetched ``limit`` at a time."""
        after: Optional[str] = None
        while True:
            query: Dict[str, Any] = {"limit": limit}
            if after is not None:
                query["after"] = after
            if include_sent:
                query["include"] = "sent"
            page = self._json(
                "GET", self._path(session_id) + "/history?" + urllib.parse.urlencode(query)
            )
            yield from page["data"]
            if not page.get("has_more") or page.get("next_cursor") is None:
                return
            after = page["next_cursor"]

    @staticmethod
    def _path(session_id: str) -> str:
        return "/v1/sessions/" + urllib.parse.quote(session_id, safe="")

    @staticmethod
    def _turn_body(
        message: Union[str, Dict[str, Any], None],
        messages: Optional[List[Dict[str, Any]]],
        params: Dict[str, Any],
        stream: bool,
    ) -> Dict[str, Any]:
        body: Dict[str, Any] = dict(params)
        if message is not None:
            body["message"] = message
        if messages is not None:
            body["messages"] = messages
        body["stream"] = stream
        return body

    def _headers(self, has_body: bool) -> Dict[str, str]:
        headers: Dict[str, str] = {"accept": "application/json, text/event-stream"}
        if self.context is not None:
            headers.update(self.context.get_headers())
            headers.pop(self.context.headers_config["session"], None)
        if self.api_key is not None:
            headers["authorization"] = f"Bearer {self.api_key}"
        if has_body:
            headers["content-type"] = "application/json"
        return headers

    def _open(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=self._headers(data is not None)
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            error.close()
            raise TurnpikeError(error.code, _error_body(text)) from None

    def _json(
        self, method: str, path: str, body: Optional[Dict[str, Any]] = None
    ) -> Dict[str, Any]:
        with self._open(method, path, body) as response:
            return json.loads(response.read().decode("utf-8"))


def _sse_events(response: Any) -> Iterator[Dict[str, Any]]:
    """The JSON events of an SSE body until ``[DONE]``; an error event raises TurnpikeError."""
    with response:
        data: List[str] = []
        for raw in response:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith("data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(" ") else value)
                continue
            if line != "" or not data:
                continue
            payload = "\n".join(data)
            data = []
            if payload.strip() == "[DONE]":
                return
            event = json.loads(payload)
            if isinstance(event, dict) and isinstance(event.get("error"), dict):
                raise TurnpikeError(502, event)
            yield event
    message = "The turn's stream ended before [DONE]; it was not saved, send it again"
    raise TurnpikeError(502, {"error": {"message": message, "type": "api_error", "code": None}})
