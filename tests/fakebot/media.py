"""Uploaded files: where a request carries them, and whether a "photo" is an image.

PTB uploads a file as a multipart part named after the parameter (``document``), or
via ``attach://name``; a bot may also pass a file_id it got before or an HTTP URL.
Telegram refuses an empty file, an unknown file_id and a photo it cannot decode.
"""

from __future__ import annotations

import struct

from . import errors
from .errors import ApiError, bad_request
from .state import StoredFile
from .wire import Params, Upload

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024


def find_upload(p: Params, field: str) -> Upload | str:
    """The uploaded part for ``field``, or the string (file_id / URL) sent instead."""
    value = p.raw.get(field)
    if field in p.files:
        return p.files[field]
    if isinstance(value, str) and value.startswith("attach://"):
        upload = p.files.get(value[len("attach://") :])
        if upload is None:
            raise bad_request(f"Bad Request: file of field {field} not found in the request")
        return upload
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise bad_request(f"Bad Request: there is no {field} in the request")


def check_upload(upload: Upload, *, photo: bool) -> tuple[int, int] | None:
    """Refuse what Telegram refuses; return (width, height) for photos."""
    if not upload.content:
        raise bad_request(errors.FILE_EMPTY)
    if len(upload.content) > (MAX_PHOTO_BYTES if photo else MAX_UPLOAD_BYTES):
        raise ApiError(413, "Request Entity Too Large")
    if not photo:
        return None
    size = image_size(upload.content)
    if size is None:
        raise bad_request(errors.IMAGE_PROCESS_FAILED)
    width, height = size
    if width <= 0 or height <= 0 or width + height > 10000 or max(size) / min(size) > 20:
        raise bad_request(errors.PHOTO_INVALID_DIMENSIONS)
    return size


def stored_from_string(files: dict[str, StoredFile], value: str) -> StoredFile:
    """A file sent again by file_id, or by URL (then without content)."""
    if value in files:
        return files[value]
    if value.startswith(("http://", "https://")):
        return StoredFile(file_id="", file_unique_id="", filename=None, mime_type=None, content=None, url=value)
    raise bad_request(errors.WRONG_FILE)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP image; None if not an image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP" and len(data) >= 30:
        if data[12:16] == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        if data[12:16] == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if data[12:16] == b"VP8X":
            width = int.from_bytes(data[24:27], "little") + 1
            height = int.from_bytes(data[27:30], "little") + 1
            return width, height
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None
