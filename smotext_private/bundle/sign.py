"""Detached Ed25519 signatures of ``manifest.json`` (the maintained ``cryptography`` library does the crypto).

``release`` with a signing key writes ``manifest.json.sig``: the 64 raw bytes of an Ed25519 signature over
the exact bytes of ``manifest.json``. It is the one file the manifest does not list (it signs the manifest,
so the manifest cannot hash it); the manifest's sha256 is the same whether or not the bundle is signed.
Anyone can check it without this tool, e.g. with OpenSSL 3:
``openssl pkeyutl -verify -pubin -inkey key.pub.pem -rawin -in manifest.json -sigfile manifest.json.sig``.
Keys are PEM files: an unencrypted PKCS#8 private key (``openssl genpkey -algorithm ed25519``) and its
public key (``openssl pkey -in key.pem -pubout``).
"""

from __future__ import annotations

from pathlib import Path

from smotext_private.bundle.manifest import SIGNATURE
from smotext_private.errors import InputError

MAX_KEY_BYTES = 64 * 1024  # a PEM Ed25519 key is about 120 bytes
SIGNATURE_BYTES = 64


def _read_pem(path, param: str) -> bytes:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{param} {path}: file not found", param=param)
    if not path.is_file():
        raise InputError(f"{param} {path}: not a regular file (give a PEM key file)", param=param)
    if path.stat().st_size > MAX_KEY_BYTES:
        raise InputError(f"{param} {path}: {path.stat().st_size} bytes is not a PEM key (an Ed25519 key is ~120 bytes)", param=param)
    return path.read_bytes()


def load_private_key(path):
    """The Ed25519 private key in the PEM file ``path`` (``InputError`` for anything else)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = _read_pem(path, "sign_key")
    try:
        key = load_pem_private_key(data, password=None)
    except TypeError:  # encrypted and no password given
        raise InputError(f"sign_key {path}: the key is encrypted; give an unencrypted PKCS#8 Ed25519 key "
                         "(keep it where only the signer can read it)", param="sign_key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(f"sign_key {path}: not a PEM private key (make one with `openssl genpkey -algorithm ed25519`)", param="sign_key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"sign_key {path}: a {type(key).__name__.lstrip('_')}, not an Ed25519 private key", param="sign_key")
    return key


def load_public_key(key):
    """An Ed25519 public key: the key itself, or the PEM file it is in (``InputError`` for anything else)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    if isinstance(key, Ed25519PublicKey):
        return key
    data = _read_pem(key, "public_key")
    try:
        loaded = load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(f"public_key {key}: not a PEM public key (make one with `openssl pkey -in KEY -pubout`)", param="public_key") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise InputError(f"public_key {key}: a {type(loaded).__name__.lstrip('_')}, not an Ed25519 public key", param="public_key")
    return loaded


def sign(data: bytes, key) -> bytes:
    """The detached signature of ``data`` (64 bytes)."""
    return key.sign(data)


def check_signature(folder: Path, data: bytes, key) -> list[str]:
    """Problems with ``manifest.json.sig`` as a signature of ``data`` (the manifest's bytes) under ``key``."""
    from cryptography.exceptions import InvalidSignature

    path = Path(folder) / SIGNATURE
    if path.is_symlink():
        return [f"{SIGNATURE} is a link, refused"]
    if not path.is_file():
        return [f"{SIGNATURE} is missing: the bundle is not signed"]
    sig = path.read_bytes() if path.stat().st_size <= 4 * SIGNATURE_BYTES else b""
    if len(sig) != SIGNATURE_BYTES:
        return [f"{SIGNATURE} is not an Ed25519 signature ({SIGNATURE_BYTES} bytes)"]
    try:
        key.verify(sig, data)
    except InvalidSignature:
        return [f"{SIGNATURE} does not verify: manifest.json was not signed by the given key, or changed after signing"]
    return []
