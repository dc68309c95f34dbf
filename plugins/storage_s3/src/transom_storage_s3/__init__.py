"""S3-compatible storage for Transom files (AWS S3, MinIO, Ceph, R2...), through boto3.

Registered as the storage driver ``s3``: a location ``STORAGE_<LOC>_DRIVER=s3`` reads
``_KEY``, ``_SECRET``, ``_BUCKET``, ``_REGION``, ``_ENDPOINT`` (for non-AWS servers), and
optionally ``_ROOT`` (a key prefix) and ``_PART_SIZE`` (bytes per multipart part, at least
5 MiB). Content is streamed both ways: uploads larger than one part go up as a multipart
upload, part by part; reads are ranged GETs yielding chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from transom.api import StoredObject, hookimpl, safe_key

__all__ = ["S3Storage"]

CHUNK = 64 * 1024
MIN_PART = 5 * 1024 * 1024


class S3Storage:
    """One bucket (and optional key prefix) as a :class:`transom.api.Storage`."""

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.bucket = str(options.get("bucket") or "")
        if not self.bucket:
            raise ValueError(f"STORAGE_{name.upper()}_BUCKET is required for the s3 driver")
        self.prefix = str(options.get("root") or "").strip("/")
        self.part_size = max(MIN_PART, int(options.get("part_size") or 8 * 1024 * 1024))
        # boto3 (~0.3 s to import) only once an s3 location is configured and opened
        import boto3
        from botocore.config import Config

        self.client = boto3.client(
            "s3", aws_access_key_id=options.get("key") or None,
            aws_secret_access_key=options.get("secret") or None,
            region_name=options.get("region") or None,
            endpoint_url=options.get("endpoint") or None,
            config=Config(s3={"addressing_style": "path"} if options.get("endpoint") else {},
                          retries={"max_attempts": 3}))

    def _key(self, key: str) -> str:
        safe_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            if end is not None and end <= start:
                return
            args["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        body = self.client.get_object(**args)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        """One PUT for small content; a multipart upload, part by part, for larger."""
        target = self._key(key)
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        size = 0
        try:
            for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= self.part_size:
                    if upload_id is None:
                        upload_id = self.client.create_multipart_upload(
                            Bucket=self.bucket, Key=target)["UploadId"]
                    parts.append(self._part(target, upload_id, len(parts) + 1, buffer))
                    buffer = bytearray()
            if upload_id is None:
                self.client.put_object(Bucket=self.bucket, Key=target, Body=bytes(buffer))
                return size
            if buffer:
                parts.append(self._part(target, upload_id, len(parts) + 1, buffer))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=target, UploadId=upload_id,
                MultipartUpload={"Parts": parts})
            return size
        except BaseException:
            if upload_id is not None:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=target,
                                                   UploadId=upload_id)
            raise

    def _part(self, target: str, upload_id: str, number: int, data: bytearray
              ) -> dict[str, Any]:
        answer = self.client.upload_part(Bucket=self.bucket, Key=target, UploadId=upload_id,
                                         PartNumber=number, Body=bytes(data))
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def stat(self, key: str) -> StoredObject | None:
        from botocore.exceptions import ClientError  # loaded with boto3 by __init__

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredObject(key, int(head["ContentLength"]), head["LastModified"])

    def list(self, prefix: str = "") -> Iterator[str]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix) if prefix else (
                f"{self.prefix}/" if self.prefix else ""))
        for page in pages:
            for obj in page.get("Contents", []):
                yield obj["Key"][strip:]


@hookimpl
def register_storage(cms: Any) -> Any:
    return {"s3": S3Storage}
