"""The server's own secret key (e.g. for keyed hashes of challenger subjects), kept in a file.

Created on first use (32 random bytes, hex, mode 0600); every API process of a deployment must
read the same file, or a keyed hash made by one would not match in another.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MIN_BYTES = 32


def load_or_create(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(MIN_BYTES))
                out.flush()
                os.fsync(out.fileno())
            os.link(tmp, path)  # appears whole; a concurrent first start keeps the first key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except ValueError:
        raise ValueError(f"{path}: expected a hex-encoded key") from None
    if len(key) < MIN_BYTES:
        raise ValueError(f"{path}: the key must be at least {MIN_BYTES} bytes")
    return key
