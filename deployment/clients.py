"""boto3 clients for the deployed stack: the usual AWS chain, or an emulator's fixed credentials."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from deployment.emulator_env import EMULATOR_ENV


def client(service: str, endpoint: str, read_timeout: int = 60) -> Any:
    config = Config(
        read_timeout=read_timeout, retries={"max_attempts": 1 if service == "lambda" else 3}
    )
    if not endpoint:
        return boto3.client(service, config=config)
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=EMULATOR_ENV["AWS_REGION"],
        config=config,
        aws_access_key_id=EMULATOR_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=EMULATOR_ENV["AWS_SECRET_ACCESS_KEY"],
    )
