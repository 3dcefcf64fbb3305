"""Working with a deployed stack from a shell: its environment, its status, its logs.

    python -m deployment.operate env     --endpoint URL   (make env: eval "$(make -s env)")
    python -m deployment.operate status  --endpoint URL   (make status)
    python -m deployment.operate logs    --endpoint URL   (make logs: follows every function)
    python -m deployment.operate summary --endpoint URL [--public-endpoint URL]

Names come from the Terraform outputs of the deploy to that endpoint (deploy.py). An empty
endpoint is AWS, as everywhere in the deploy CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from deployment import deploy
from deployment.clients import client
from deployment.emulator_env import EMULATOR_ENV
from deployment.terraform_cli import DeployError, workspace
from deployment.variables import tf_variables
from mlcycle.storage import BREAKER_STATE_KEY, aliases_key

BUCKET_VARIABLES = {
    "data": "DATA_BUCKET",
    "models": "MODEL_BUCKET",
    "predictions": "PREDICTIONS_BUCKET",
    "monitoring": "MONITORING_BUCKET",
}
LOG_POLL_S = 1.0
# moto_server's own attempt to run a function on an S3 notification (it has no Docker) logs
# this; the local AWS runs the function itself, and its lines follow.
MOTO_DOCKER_NOISE = "error running docker:"


def _stack(endpoint: str, state_dir: Path | None) -> dict:
    stack = deploy.outputs(endpoint, state_dir)
    if not stack:
        where = endpoint or "AWS"
        raise DeployError(
            f"nothing deployed to {where} from this checkout: "
            + ("`make deploy-local`" if endpoint else "`make deploy`")
        )
    return stack


def shell_env(endpoint: str, state_dir: Path | None = None) -> str:
    """`export` lines for the aws CLI and for `terraform` run by hand in deployment/terraform."""
    stack = _stack(endpoint, state_dir)
    state_dir = Path(state_dir or deploy.default_state_dir(endpoint)).resolve()
    tf_env = workspace(endpoint, state_dir)
    var_file = state_dir / "deploy.tfvars.json"
    if not var_file.exists():
        var_file.write_text(
            json.dumps(
                tf_variables(
                    endpoint, "layer", deploy.DEFAULT_PACKAGES, deploy.DEFAULT_MODEL_CONFIG
                ),
                indent=2,
            )
        )
    lines = []
    if endpoint:
        lines += [
            f"export AWS_ENDPOINT_URL={endpoint}",
            f"export AWS_ACCESS_KEY_ID={EMULATOR_ENV['AWS_ACCESS_KEY_ID']}",
            f"export AWS_SECRET_ACCESS_KEY={EMULATOR_ENV['AWS_SECRET_ACCESS_KEY']}",
        ]
    lines.append(f"export AWS_DEFAULT_REGION={stack['region']}")
    lines += [f"export {var}={stack['buckets'][key]}" for key, var in BUCKET_VARIABLES.items()]
    lines += [f"export {var}={tf_env[var]}" for var in ("TF_CLI_CONFIG_FILE", "TF_DATA_DIR")]
    lines += [
        "# terraform by hand (provider: the mirror or registry TF_CLI_CONFIG_FILE names):",
        "#   cd deployment/terraform",
        f"#   terraform init -reconfigure -backend-config=path={state_dir / 'terraform.tfstate'}",
        f"#   terraform apply -var-file={var_file}",
    ]
    return "\n".join(lines)


def _breaker_and_champions(endpoint: str, stack: dict) -> list[str]:
    s3 = client("s3", endpoint)
    lines = []
    try:
        body = s3.get_object(Bucket=stack["monitoring_bucket"], Key=BREAKER_STATE_KEY)["Body"]
        state = json.loads(body.read())
        lines.append(
            f"breaker: {state.get('state')} (revision {state.get('revision')}, "
            f"since {state.get('since') or 'deploy'}, model {state.get('model_version') or '-'})"
        )
    except s3.exceptions.NoSuchKey:
        lines.append(f"breaker: no {BREAKER_STATE_KEY}: every batch is held (deploy init-state)")
    models = s3.list_objects_v2(Bucket=stack["model_bucket"], Prefix="models/", Delimiter="/")
    names = [p["Prefix"].split("/")[1] for p in models.get("CommonPrefixes", [])]
    for name in names:
        try:
            aliases = json.loads(
                s3.get_object(Bucket=stack["model_bucket"], Key=aliases_key(name))["Body"].read()
            )
        except s3.exceptions.NoSuchKey:
            aliases = {}
        lines.append(
            f"model {name}: champion {aliases.get('champion') or '-'}, "
            f"previous {aliases.get('previous') or '-'}"
        )
    if not names:
        lines.append("model: none trained yet (invoke the train function)")
    return lines


def status(endpoint: str, state_dir: Path | None = None) -> str:
    """Buckets, functions, rules and their state, alarms in ALARM, the breaker, the champion."""
    stack = _stack(endpoint, state_dir)
    s3, lam = client("s3", endpoint), client("lambda", endpoint)
    events, cloudwatch = client("events", endpoint), client("cloudwatch", endpoint)
    lines = [f"endpoint: {endpoint or 'AWS'}  region: {stack['region']}", "buckets:"]
    for key, name in sorted(stack["buckets"].items()):
        count = s3.list_objects_v2(Bucket=name, MaxKeys=1000).get("KeyCount", 0)
        lines.append(f"  {key:<12} {name}  ({count}{'+' if count == 1000 else ''} objects)")
    lines.append("functions:")
    for key, name in sorted(stack["function_names"].items()):
        config = lam.get_function_configuration(FunctionName=name)
        lines.append(
            f"  {key:<12} {name}  code {config['CodeSha256'][:12]}  "
            f"timeout {config['Timeout']}s  memory {config['MemorySize']} MB"
        )
    lines.append("rules:")
    for key, name in sorted(stack["rule_names"].items()):
        rule = events.describe_rule(Name=name)
        lines.append(f"  {key:<12} {name}  {rule['State']}  {rule.get('ScheduleExpression', '')}")
    alarming = [
        a["AlarmName"]
        for page in cloudwatch.get_paginator("describe_alarms").paginate(StateValue="ALARM")
        for a in page.get("MetricAlarms", [])
    ]
    lines.append(f"alarms in ALARM: {', '.join(alarming) or 'none'}")
    return "\n".join(lines + _breaker_and_champions(endpoint, stack))


def follow_logs(
    endpoint: str, state_dir: Path | None = None, since_s: float = 300.0, once: bool = False
) -> None:
    """Print every function's log lines as they arrive (the last `since_s` seconds first)."""
    stack = _stack(endpoint, state_dir)
    logs = client("logs", endpoint)
    start = {name: int((time.time() - since_s) * 1000) for name in stack["function_names"].values()}
    seen: set[tuple] = set()
    while True:
        for name in sorted(start):
            group, fresh = f"/aws/lambda/{name}", []
            try:
                for page in logs.get_paginator("filter_log_events").paginate(
                    logGroupName=group, startTime=start[name]
                ):
                    fresh += page.get("events", [])
            except logs.exceptions.ResourceNotFoundException:
                continue
            for event in sorted(fresh, key=lambda e: (e["timestamp"], e.get("ingestionTime", 0))):
                key = (event.get("logStreamName"), event["timestamp"], event["message"])
                if key in seen or event["message"].startswith(MOTO_DOCKER_NOISE):
                    continue
                seen.add(key)
                stamp = datetime.fromtimestamp(event["timestamp"] / 1000, UTC).strftime("%H:%M:%S")
                print(f"{stamp} {name} | {event['message'].rstrip()}", flush=True)
                start[name] = max(start[name], int(event["timestamp"]))
        if once:
            return
        time.sleep(LOG_POLL_S)


def summary(endpoint: str, public_endpoint: str = "", state_dir: Path | None = None) -> str:
    """What a deploy made, and the next command to run (the last lines of the deploy log)."""
    stack = _stack(endpoint, state_dir)
    url = public_endpoint or endpoint
    flag = f" --endpoint-url {url}" if url else ""
    return "\n".join(
        [
            "deployed:",
            *(f"  bucket   {name}" for name in sorted(stack["buckets"].values())),
            *(f"  function {name}" for name in sorted(stack["function_names"].values())),
            *(f"  rule     {name}" for name in sorted(stack["rule_names"].values())),
            "next:",
            f"  aws{flag} s3 cp bookings.csv s3://{stack['data_bucket']}/incoming/2026-01-02/bookings.csv",
            f"  aws{flag} s3 cp hotels.csv s3://{stack['data_bucket']}/incoming/2026-01-02/hotels.csv",
            f"  aws{flag} s3 ls s3://{stack['predictions_bucket']}/predictions/2026-01-02/",
            f"  aws{flag} lambda invoke --function-name {stack['function_names']['breaker']} "
            '--payload \'{"action": "status"}\' out.json',
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployment.operate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", choices=["env", "status", "logs", "summary"])
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", ""))
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument(
        "--public-endpoint", default="", help="summary: the endpoint as the user's shell sees it"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "env":
            print(shell_env(args.endpoint, args.state_dir))
        elif args.command == "status":
            print(status(args.endpoint, args.state_dir))
        elif args.command == "summary":
            print(summary(args.endpoint, args.public_endpoint, args.state_dir))
        else:
            follow_logs(args.endpoint, args.state_dir)
    except DeployError as exc:
        print(f"operate: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
