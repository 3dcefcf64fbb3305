"""The credentials and region sent to any emulator endpoint (LocalStack, moto_server).

LocalStack's fixed dummy credentials: an emulator accepts any, and with these a deploy
to an emulator can never carry a user's real AWS credentials along. The region is the
one the stack's names and ARNs are built for by default.
"""

from __future__ import annotations

EMULATOR_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
