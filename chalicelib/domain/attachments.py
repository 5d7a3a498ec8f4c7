"""Attachment upload policy: size limit, allowed content types, safe file names."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from chalicelib.domain.errors import TooLargeError, ValidationError

_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+-]")


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    max_bytes: int
    content_types: frozenset[str]

    def check(self, content_type: str, size: int) -> None:
        """Refuse a declared upload that is too large (413) or of a type not accepted (400)."""
        if size > self.max_bytes:
            raise TooLargeError(
                f"The file is {size} bytes; the limit is {self.max_bytes} bytes.", field="size"
            )
        if content_type.lower() not in self.content_types:
            raise ValidationError(
                f"Content type '{content_type}' is not accepted for attachments.",
                field="content_type",
            )


def storage_name(file_name: str) -> str:
    """A file name safe to use in an object key and a Content-Disposition header."""
    normalized = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", normalized).strip(" .")
    return cleaned[:120] or "file"
