"""Model versions signed with a KMS key only the train function may use.

A hash stored next to a model proves nothing against someone who can write both files, and
loading a pickle runs its code. So registration signs a digest that binds the model name,
the version, the model file's sha256 and the metadata document; loading verifies it with
KMS (the key named by MODEL_SIGNING_KEY_ID in the function's environment, never by the
metadata) before anything is deserialised or trusted.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from mlcycle import storage
from mlcycle.errors import ModelIntegrityError
from mlcycle.invoke import MissingSetting, setting

KEY_VARIABLE = "MODEL_SIGNING_KEY_ID"
ALGORITHM = "ECDSA_SHA_256"
SIGNATURE_FIELD = "signature"
REFUSALS = {
    "KMSInvalidSignatureException",
    "ValidationException",
    "InvalidKeyUsageException",
    "IncorrectKeyException",
    "NotFoundException",
    "DisabledException",
}


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()


def digest(name: str, version: str, metadata: dict) -> bytes:
    """sha256 over name, version and the metadata (which holds the model file's sha256),
    in the form the metadata has once stored and read back."""
    unsigned = {k: v for k, v in metadata.items() if k != SIGNATURE_FIELD}
    stored_form = json.loads(json.dumps(unsigned, default=str))
    return hashlib.sha256(
        _canonical({"name": name, "version": version, "metadata": stored_form})
    ).digest()


def sign(name: str, version: str, metadata: dict) -> dict:
    """The signature record stored in the metadata (train role only: kms:Sign)."""
    key = setting(KEY_VARIABLE)
    response = boto3.client("kms").sign(
        KeyId=key,
        Message=digest(name, version, metadata),
        MessageType="DIGEST",
        SigningAlgorithm=ALGORITHM,
    )
    return {
        "key_id": response.get("KeyId", key),
        "algorithm": ALGORITHM,
        "value": base64.b64encode(response["Signature"]).decode(),
    }


def verify(name: str, version: str, metadata: dict) -> None:
    """Raise ModelIntegrityError unless the metadata carries a valid signature by our key."""
    where = f"{storage.model_prefix(name)}{version}"
    record = metadata.get(SIGNATURE_FIELD)
    if not isinstance(record, dict) or not isinstance(record.get("value"), str):
        raise ModelIntegrityError(
            f"{where}: unsigned; refusing to load it (sign the versions registered before "
            'signing once, as the train function: payload {"action": "sign_unsigned"})'
        )
    try:
        key = setting(KEY_VARIABLE)
    except MissingSetting as exc:
        raise ModelIntegrityError(f"{where}: cannot verify: {exc}") from None
    try:
        signature = base64.b64decode(record["value"], validate=True)
        valid = (
            bool(signature)
            and boto3.client("kms").verify(
                KeyId=key,
                Message=digest(name, version, metadata),
                MessageType="DIGEST",
                Signature=signature,
                SigningAlgorithm=ALGORITHM,
            )["SignatureValid"]
        )
    except ClientError as exc:
        # KMS refusing the signature or its shape is a failed check; throttling and outages
        # are not, and propagate for a retry.
        if exc.response["Error"]["Code"] not in REFUSALS:
            raise
        valid = False
    except ValueError:
        valid = False
    if not valid:
        raise ModelIntegrityError(
            f"{where}: the signature does not verify with the signing key; model and metadata "
            "were not written by training. Refusing to load it"
        )
