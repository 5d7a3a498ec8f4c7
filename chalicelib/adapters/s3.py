"""Attachment files in S3: presigned POST uploads limited by size and type, presigned GETs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote

from chalicelib.ports import PresignedUpload


class S3FileStore:
    """Implements ``FileStore`` on one bucket. Object keys always start with the owning tenant.

    The S3 client is made on first use: most requests that carry a file store never touch it.
    """

    def __init__(
        self, client: Callable[[], Any], bucket: str, *, success_redirect: str | None = None
    ) -> None:
        self._client = client
        self._bucket = bucket
        # Where a browser that posted an upload form is sent once S3 stored the file (S3 adds
        # ``bucket``, ``key`` and ``etag`` to its query); None answers 204 (API clients).
        self._success_redirect = success_redirect

    def redirecting(self, url: str) -> S3FileStore:
        """The same store, whose upload forms send the browser to ``url`` after the upload
        (the portal's plain HTML forms post straight to S3)."""
        return S3FileStore(self._client, self._bucket, success_redirect=url)

    @cached_property
    def _s3(self) -> Any:
        return self._client()

    def presign_upload(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> PresignedUpload:
        """A POST policy that accepts exactly ``size`` bytes of ``content_type`` at ``key``."""
        fields: dict[str, str] = {"Content-Type": content_type}
        conditions: list[Any] = [
            {"Content-Type": content_type},
            ["content-length-range", size, size],
        ]
        if self._success_redirect is not None:
            # Every form field must be in the signed policy, the redirect too.
            fields["success_action_redirect"] = self._success_redirect
            conditions.append({"success_action_redirect": self._success_redirect})
        post = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=expires_in,
        )
        return PresignedUpload(
            url=post["url"],
            fields=dict(post["fields"]),
            expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        )

    def presign_download(self, key: str, file_name: str, expires_in: int) -> str:
        disposition = f"attachment; filename*=UTF-8''{quote(file_name, safe='')}"
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=expires_in,
        )
        return url

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)

    def copy(self, source_key: str, target_key: str) -> None:
        try:
            self._s3.copy_object(
                Bucket=self._bucket,
                Key=target_key,
                CopySource={"Bucket": self._bucket, "Key": source_key},
            )
        except self._s3.exceptions.ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(source_key) from exc
            raise

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self._bucket, Key=key)
        except self._s3.exceptions.ClientError as exc:
            if _missing(exc):
                return False
            raise
        return True


def _missing(exc: Exception) -> bool:
    error = getattr(exc, "response", {}).get("Error", {})
    return str(error.get("Code")) in {"404", "NoSuchKey", "NotFound"}
