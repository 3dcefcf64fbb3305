"""The credentials and region sent to any emulator endpoint (LocalStack, moto_server).

LocalStack's fixed dummy credentials: an emulator accepts any, and with these a deploy
to an emulator can never carry a user's real AWS credentials along. The region follows the
user's AWS environment as the AWS CLI and the Terraform provider do (AWS_REGION, then
AWS_DEFAULT_REGION), us-east-1 when neither is set.
"""

from __future__ import annotations

import os


def user_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


EMULATOR_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": user_region(),
    "AWS_REGION": user_region(),
}
