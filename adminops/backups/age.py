"""age encryption of backup archives, as streams (https://age-encryption.org/v1).

Public-key recipients and identities go through pyrage. pyrage's passphrase mode only takes and
returns whole byte strings, which would hold a whole backup in memory, so the passphrase
(scrypt) recipient is written and read here, streamed, with `cryptography`'s primitives; the
format is age's own, so `age -d` opens these files and tests check it does.

The two wrappers are file-like: `EncryptingWriter.write()` takes plaintext and writes age to
the file below; `DecryptingReader.read()` gives plaintext from an age file. pyrage's streaming
calls pull from a reader and push to a writer themselves, so for those a thread runs them
across an OS pipe.
"""

from __future__ import annotations

import base64
import hmac
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from hashlib import sha256

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"age-encryption.org/v1\n"
CHUNK = 64 * 1024  # age's STREAM chunk of plaintext
TAG = 16
# age's own default work factor (scrypt N = 2**18: about a second and 256 MiB, once per file).
SCRYPT_LOG2N = 18
MAX_SCRYPT_LOG2N = 22  # what `age` itself accepts when decrypting
_SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
_PIPE_BUFFER = 1024 * 1024


class AgeError(Exception):
    """The file is not age, or cannot be opened with the keys given, or was altered."""


@dataclass(frozen=True)
class AgeKeys:
    """Who can open an archive: public recipients and/or a passphrase to encrypt; identities
    (secret keys) and/or the passphrase to decrypt."""

    recipients: tuple[str, ...] = ()
    passphrase: str = ""
    identities: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_settings(cls) -> AgeKeys:
        from django.conf import settings

        return cls(
            recipients=tuple(split_keys(settings.BACKUP_AGE_RECIPIENTS)),
            passphrase=settings.BACKUP_AGE_PASSPHRASE or "",
            identities=tuple(split_keys(settings.BACKUP_AGE_IDENTITIES)),
        )

    @property
    def can_encrypt(self) -> bool:
        return bool(self.recipients or self.passphrase)

    @property
    def can_decrypt(self) -> bool:
        return bool(self.identities or self.passphrase)


def split_keys(text: str | None) -> list[str]:
    """Keys from an env value or an age recipients/identity file: one per line or
    comma-separated, '#' comments and blank lines skipped."""
    keys = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keys.extend(part.strip() for part in line.split(",") if part.strip())
    return keys


def is_age_file(path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _unb64(text: bytes) -> bytes:
    if b"=" in text or b"\r" in text:
        raise AgeError("age header: non-canonical base64")
    try:
        return base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except ValueError as exc:
        raise AgeError("age header: bad base64") from exc


def _hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


def _scrypt_key(passphrase: str, salt: bytes, log2n: int) -> bytes:
    return Scrypt(salt=_SCRYPT_LABEL + salt, length=32, n=2**log2n, r=8, p=1).derive(
        passphrase.encode("utf-8")
    )


def _chunk_nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


# --- passphrase (scrypt) recipient, streamed ---------------------------------------------


class _ScryptWriter:
    def __init__(self, out, passphrase: str):
        self._out = out
        file_key = os.urandom(16)
        salt = os.urandom(16)
        wrapped = ChaCha20Poly1305(_scrypt_key(passphrase, salt, SCRYPT_LOG2N)).encrypt(
            b"\x00" * 12, file_key, None
        )
        header = MAGIC + b"-> scrypt " + _b64(salt) + b" %d\n" % SCRYPT_LOG2N
        body = _b64(wrapped)
        header += b"".join(body[i : i + 64] + b"\n" for i in range(0, len(body), 64))
        if len(body) % 64 == 0:
            header += b"\n"  # the last body line is always shorter than 64 columns
        header += b"---"
        mac = hmac.new(_hkdf(file_key, b"", b"header"), header, sha256).digest()
        nonce = os.urandom(16)
        out.write(header + b" " + _b64(mac) + b"\n" + nonce)
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._counter = 0
        self._buffer = bytearray()

    def write(self, data) -> int:
        self._buffer += data
        # Keep at least one byte back: the last chunk is sealed differently, and only close()
        # knows which one is last.
        while len(self._buffer) > CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _seal(self, plain: bytes, last: bool) -> None:
        self._out.write(self._aead.encrypt(_chunk_nonce(self._counter, last), plain, None))
        self._counter += 1

    def close(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()

    def abort(self) -> None:
        self._buffer.clear()


class _ScryptReader:
    def __init__(self, source, passphrase: str):
        self._source = source
        file_key = self._read_header(passphrase)
        nonce = self._exact(16)
        if len(nonce) != 16:
            raise AgeError("age file is truncated")
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._counter = 0
        self._pending = self._source.read(CHUNK + TAG)
        self._plain = b""
        self._done = False

    def _exact(self, size: int) -> bytes:
        parts, got = [], 0
        while got < size:
            part = self._source.read(size - got)
            if not part:
                break
            parts.append(part)
            got += len(part)
        return b"".join(parts)

    def _line(self) -> bytes:
        line = bytearray()
        while not line.endswith(b"\n"):
            byte = self._source.read(1)
            if not byte or len(line) > 4096:
                raise AgeError("age header is malformed")
            line += byte
        return bytes(line)

    def _read_header(self, passphrase: str) -> bytes:
        if self._exact(len(MAGIC)) != MAGIC:
            raise AgeError("not an age file")
        header = bytearray(MAGIC)
        stanzas = []
        while True:
            line = self._line()
            if line.startswith(b"--- "):
                header += b"---"
                mac = _unb64(line[4:-1])
                break
            if not line.startswith(b"-> "):
                raise AgeError("age header is malformed")
            header += line
            args = line[3:-1].split(b" ")
            body = b""
            while True:
                body_line = self._line()
                header += body_line
                body += body_line[:-1]
                if len(body_line) - 1 < 64:
                    break
            stanzas.append((args, _unb64(body)))
        scrypt = [(args, body) for args, body in stanzas if args and args[0] == b"scrypt"]
        if not scrypt:
            raise AgeError("this archive was encrypted to public keys, not with a passphrase")
        if len(stanzas) != 1:
            raise AgeError("an age scrypt stanza must be the only one")
        args, body = scrypt[0]
        if len(args) != 3 or not args[2].isdigit():
            raise AgeError("age scrypt stanza is malformed")
        log2n = int(args[2])
        if not 1 <= log2n <= MAX_SCRYPT_LOG2N:
            raise AgeError(f"age scrypt work factor {log2n} is out of range")
        salt = _unb64(args[1])
        try:
            file_key = ChaCha20Poly1305(_scrypt_key(passphrase, salt, log2n)).decrypt(
                b"\x00" * 12, body, None
            )
        except InvalidTag as exc:
            raise AgeError("wrong passphrase for this archive") from exc
        expected = hmac.new(_hkdf(file_key, b"", b"header"), bytes(header), sha256).digest()
        if not hmac.compare_digest(expected, mac):
            raise AgeError("age header was altered")
        return file_key

    def _next_chunk(self) -> None:
        sealed = self._pending
        self._pending = self._source.read(CHUNK + TAG) if len(sealed) == CHUNK + TAG else b""
        while self._pending and len(self._pending) < CHUNK + TAG:
            more = self._source.read(CHUNK + TAG - len(self._pending))
            if not more:
                break
            self._pending += more
        last = not self._pending
        if len(sealed) < TAG or (not last and len(sealed) != CHUNK + TAG):
            raise AgeError("age file is truncated")
        try:
            self._plain = self._aead.decrypt(_chunk_nonce(self._counter, last), sealed, None)
        except InvalidTag as exc:
            raise AgeError("age payload was altered or truncated") from exc
        if last and not self._plain and self._counter > 0:
            raise AgeError("age file ends with an empty chunk")
        self._counter += 1
        self._done = last

    def read(self, size: int = -1) -> bytes:
        out = []
        wanted = size if size >= 0 else float("inf")
        got = 0
        while got < wanted:
            if not self._plain:
                if self._done:
                    break
                self._next_chunk()
                continue
            take = self._plain[: int(min(wanted - got, len(self._plain)))]
            self._plain = self._plain[len(take) :]
            out.append(take)
            got += len(take)
        return b"".join(out)

    def close(self) -> None:
        self._plain = b""


# --- public-key recipients through pyrage, across a pipe ---------------------------------


class _PipeWorker:
    """Runs `work(reader_or_writer)` in a thread at the other end of an OS pipe."""

    def __init__(self, work, *, we_write: bool):
        read_fd, write_fd = os.pipe()
        # Buffered both ends: a buffered file writes and reads whole requests over a pipe.
        self._ours = os.fdopen(
            write_fd if we_write else read_fd, "wb" if we_write else "rb", _PIPE_BUFFER
        )
        theirs = os.fdopen(read_fd if we_write else write_fd, "rb" if we_write else "wb")
        self.error: BaseException | None = None

        def run():
            try:
                work(theirs)
            except BaseException as exc:  # handed to the caller's thread on close
                self.error = exc
            finally:
                theirs.close()

        self._thread = threading.Thread(target=run, name="age-stream", daemon=True)
        self._thread.start()

    def finish(self) -> BaseException | None:
        if not self._ours.closed:
            self._ours.close()
        self._thread.join()
        return self.error


def _pyrage_recipients(keys: Iterable[str]):
    import pyrage

    recipients = []
    for key in keys:
        try:
            if key.startswith("age1"):
                recipients.append(pyrage.x25519.Recipient.from_str(key))
            elif key.startswith("ssh-"):
                recipients.append(pyrage.ssh.Recipient.from_str(key))
            else:
                raise ValueError("unknown kind")
        except Exception as exc:
            shown = key if len(key) < 24 else key[:20] + "…"
            raise AgeError(
                f"BACKUP_AGE_RECIPIENTS: {shown!r} is not an age or SSH public key"
            ) from exc
    return recipients


def _pyrage_identities(keys: Iterable[str]):
    import pyrage

    identities = []
    for key in keys:
        try:
            if key.startswith("AGE-SECRET-KEY-"):
                identities.append(pyrage.x25519.Identity.from_str(key))
            else:
                raise ValueError("unknown kind")
        except Exception as exc:
            raise AgeError(
                "BACKUP_AGE_IDENTITIES holds a value that is not an age secret key"
            ) from exc
    return identities


def check_encryption_keys(keys: AgeKeys) -> None:
    """Raises AgeError unless `keys` can encrypt: one kind, and each recipient well formed."""
    if keys.recipients and keys.passphrase:
        raise AgeError(
            "Set BACKUP_AGE_RECIPIENTS or BACKUP_AGE_PASSPHRASE, not both: age encrypts a "
            "file either to keys or with a passphrase."
        )
    if not keys.can_encrypt:
        raise AgeError("No age recipient or passphrase is configured.")
    _pyrage_recipients(keys.recipients)


class EncryptingWriter:
    """Plaintext in, age out to `out`; close() finishes the file, abort() drops it."""

    def __init__(self, out, keys: AgeKeys):
        check_encryption_keys(keys)
        self._scrypt = None
        self._pipe = None
        if keys.passphrase:
            self._scrypt = _ScryptWriter(out, keys.passphrase)
        else:
            import pyrage

            recipients = _pyrage_recipients(keys.recipients)
            self._pipe = _PipeWorker(
                lambda reader: pyrage.encrypt_io(reader, out, recipients), we_write=True
            )

    def write(self, data) -> int:
        if self._scrypt is not None:
            return self._scrypt.write(data)
        try:
            self._pipe._ours.write(data)
        except BrokenPipeError:
            raise AgeError(f"age encryption stopped: {self._pipe.finish()}") from None
        return len(data)

    def close(self) -> None:
        if self._scrypt is not None:
            self._scrypt.close()
            return
        error = self._pipe.finish()
        if error is not None:
            raise AgeError(f"age encryption failed: {error}") from error

    def abort(self) -> None:
        if self._scrypt is not None:
            self._scrypt.abort()
        else:
            self._pipe.finish()


class DecryptingReader:
    """An age file in, plaintext out of read(); close() reports a failure seen at the end."""

    def __init__(self, source, keys: AgeKeys):
        self._scrypt = None
        self._pipe = None
        head = source.read(len(MAGIC))
        if head != MAGIC:
            raise AgeError("not an age file")
        source.seek(0)
        if keys.passphrase and _first_stanza_is_scrypt(source):
            self._scrypt = _ScryptReader(source, keys.passphrase)
            return
        source.seek(0)
        if not keys.identities:
            raise AgeError(
                "The archive is encrypted; the server needs BACKUP_AGE_IDENTITIES (or the "
                "BACKUP_AGE_PASSPHRASE it was made with) to open it. An operator can also "
                "decrypt it with `age -d` and use the plain archive."
            )
        import pyrage

        identities = _pyrage_identities(keys.identities)
        self._pipe = _PipeWorker(
            lambda writer: pyrage.decrypt_io(source, writer, identities), we_write=False
        )
        self._at_end = False

    def read(self, size: int = -1) -> bytes:
        if self._scrypt is not None:
            return self._scrypt.read(size)
        data = self._pipe._ours.read() if size < 0 else self._pipe._ours.read(size)
        if not data or size < 0:
            # The end of the plaintext: only now is it known that every chunk checked out.
            self._at_end = True
            error = self._pipe.finish()
            if error is not None:
                raise AgeError(f"age decryption failed: {error}") from error
        return data

    def close(self) -> None:
        if self._pipe is not None:
            error = self._pipe.finish()
            # A reader that stops early breaks the pipe on purpose: that error is not news.
            if error is not None and self._at_end:
                raise AgeError(f"age decryption failed: {error}") from error


def _first_stanza_is_scrypt(source) -> bool:
    head = source.read(len(MAGIC) + 16)
    source.seek(0)
    return head[len(MAGIC) :].startswith(b"-> scrypt ")
