"""Decoding Bot API requests as Telegram does: JSON, form-urlencoded or multipart.

python-telegram-bot sends form-urlencoded bodies whose values are JSON-encoded strings
(``chat_id=42``, ``reply_markup={"inline_keyboard": ...}``), and multipart/form-data
when it uploads a file. Telegram accepts all three encodings and coerces the strings, so
the fake does the same and hands the methods a typed ``Params`` view.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from .errors import ApiError, bad_request


@dataclass(frozen=True)
class Upload:
    """One uploaded file part of a multipart request."""

    filename: str
    content: bytes
    content_type: str


def decode_body(content_type: str, body: bytes, query: str = "") -> tuple[dict[str, Any], dict[str, Upload]]:
    """Return (params, files) from an HTTP request's body and query string."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    files: dict[str, Upload] = {}
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params, files
    if media_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise bad_request("Bad Request: can't parse JSON encoded request") from exc
        if not isinstance(decoded, dict):
            raise bad_request("Bad Request: JSON object expected")
        params.update(decoded)
    elif media_type == "multipart/form-data":
        boundary = _header_param(content_type, "boundary")
        if not boundary:
            raise bad_request("Bad Request: multipart boundary is missing")
        fields, files = _parse_multipart(body, boundary.encode("latin-1"))
        params.update(fields)
    else:  # Telegram treats anything else as form-urlencoded
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params, files


def _header_param(header: str, name: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{name}\*?=("(?:[^"\\]|\\.)*"|[^;]*)', header, re.IGNORECASE)
    if match is None:
        return None
    value = match.group(1).strip()
    if value.startswith('"') and value.endswith('"'):
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _parse_multipart(body: bytes, boundary: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    """A small multipart/form-data parser (httpx's encoding; no nested multiparts)."""
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    delimiter = b"--" + boundary
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        content = content.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "name")
        if name is None:
            continue
        name = _unescape_form_value(name)
        filename = _header_param(disposition, "filename")
        if filename is None:
            fields[name] = content.decode("utf-8", "replace")
        else:
            files[name] = Upload(
                filename=_unescape_form_value(filename),
                content=content,
                content_type=headers.get("content-type", "application/octet-stream"),
            )
    return fields, files


def _unescape_form_value(value: str) -> str:
    """Undo httpx's HTML5 escaping of names and filenames in Content-Disposition."""
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)


class Params:
    """Typed, Telegram-like access to a request's parameters and uploaded files."""

    def __init__(self, raw: dict[str, Any], files: dict[str, Upload] | None = None) -> None:
        self.raw = raw
        self.files = files or {}

    def has(self, name: str) -> bool:
        """True when the parameter was sent with a non-empty value."""
        value = self.raw.get(name)
        return value is not None and value != ""

    def get_str(self, name: str) -> str | None:
        """A string parameter; numbers are accepted and converted, as Telegram does."""
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str):
            return value
        raise bad_request(f'Bad Request: field "{name}" must be of type String')

    def get_int(self, name: str, *, missing: str | None = None) -> int | None:
        """An integer parameter; ``missing`` is the error description when it is required."""
        value = self.raw.get(name)
        if value is None or value == "":
            if missing is not None:
                raise bad_request(missing)
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        raise bad_request(f'Bad Request: field "{name}" must be a valid Number')

    def get_float(self, name: str) -> float | None:
        """A number parameter."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise bad_request(f'Bad Request: field "{name}" must be a valid Number') from exc

    def get_bool(self, name: str, default: bool = False) -> bool:
        """A boolean parameter: true/false/1/0 in any case."""
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        return str(value).strip().lower() in {"true", "1"}

    def get_json(self, name: str, *, error: str | None = None) -> Any:
        """A structured parameter, given either natively (JSON body) or as a JSON string."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise bad_request(error or f"Bad Request: can't parse {name} JSON object") from exc
        return value

    def require(self, name: str, description: str) -> Any:
        """The raw value, or a 400 with ``description`` when absent or empty."""
        if not self.has(name):
            raise ApiError(400, description)
        return self.raw[name]
