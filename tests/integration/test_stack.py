"""The real Terraform in deployment/terraform/, applied once to a throwaway moto_server;
every resource is then read back through boto3 and checked against what the stack is meant
to be.

Placeholder packages (tests/fixtures/placeholders.py) stand in for the real build: the
stack's shape does not depend on what the zips contain, and they are small and quick.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import shutil
import time
from pathlib import Path

import pytest
import yaml

from deployment import deploy, variables
from deployment.clients import client
from deployment.terraform_cli import DeployError, cli_config, find_provider_mirror
from handlers import FUNCTIONS
from local_aws.emulator import running_emulator
from tests.fixtures.placeholders import write_placeholder_packages

ROOT = Path(__file__).resolve().parents[2]
# Raw-metric alarms the stack is applied with (the repo's config with this section added).
ALARMS = {
    "join_coverage_min": 0.75,  # a suffix
    "prediction_drift_max": 0.3,
    "volume_ratio_min": 0.5,
    "RealisedAccuracy": {
        "threshold": 0.55,
        "comparison": "<=",
        "evaluation_periods": 2,
        "datapoints_to_alarm": 2,
    },
}
# Subscribed to the warnings topic: an e-mail subscription in the state (pending on AWS).
WATCHER = "watcher@example.com"


def _b64sha(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(outputs, endpoint, packages dir, apply seconds).

    Covers layer packaging, custom memory, raw-metric alarms, a disabled rule, an e-mail
    subscription.
    """
    tmp = tmp_path_factory.mktemp("stack")
    packages = write_placeholder_packages(tmp / "packages")
    config = yaml.safe_load((ROOT / "model" / "model_config.yml").read_text())
    config.setdefault("monitoring", {})["alarms"] = ALARMS
    config["monitoring"]["rules"] = {"EstimateError": {"enabled": False}}
    model_config = tmp / "model_config.yml"
    model_config.write_text(yaml.safe_dump(config))
    with running_emulator(log_path=tmp / "moto_server.log") as url:
        started = time.monotonic()
        outputs = deploy.apply(
            url,
            "layer",
            tmp / "state",
            packages_dir=packages,
            model_config=model_config,
            quiet=True,
            extra_vars={
                "function_memory_mb": {"train": 3008},
                "function_timeout_s": {"breaker": 90},
                "warning_email_addresses": [WATCHER],
            },
        )
        seconds = time.monotonic() - started
        print(f"\nterraform init + apply against moto_server: {seconds:.1f}s")
        yield outputs, url, packages, seconds, tmp / "state"


@pytest.fixture(scope="module")
def aws(stack):
    _, url, *_ = stack

    return lambda service: client(service, url)


def _role_policy(aws, fn: str) -> list[dict]:
    iam = aws("iam")
    role = f"mlcycle-{fn}-role"
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        for st in doc["Statement"]:
            statements.append(
                {
                    **st,
                    "Action": [st["Action"]] if isinstance(st["Action"], str) else st["Action"],
                    "Resource": [st["Resource"]]
                    if isinstance(st["Resource"], str)
                    else st["Resource"],
                }
            )
    return statements


def _allows(statements: list[dict], action: str, resource: str) -> bool:
    """Allow statements only (the stack has no Deny); conditions are checked separately."""
    return any(
        st["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in st["Action"])
        and any(fnmatch.fnmatchcase(resource, r) for r in st["Resource"])
        for st in statements
    )


# --- functions -----------------------------------------------------------------------------


def test_functions_run_python311_with_the_contract_handlers_and_sizes(stack, aws):
    outputs, *_ = stack
    expected = {
        "train": (3008, 900),
        "infer": (2048, 600),
        "monitor": (1024, 300),
        "breaker": (256, 90),
    }
    for fn in FUNCTIONS:
        config = aws("lambda").get_function_configuration(
            FunctionName=outputs["function_names"][fn]
        )
        assert config["Runtime"] == "python3.11"
        assert config["Handler"] == f"handlers.{fn}.handler"
        assert config["Architectures"] == ["x86_64"]
        assert (config["MemorySize"], config["Timeout"]) == expected[fn]
        assert config["Role"].endswith(f":role/mlcycle-{fn}-role")


def test_function_environments_follow_the_contract(stack, aws):
    outputs, *_ = stack
    buckets = {
        "DATA_BUCKET": outputs["data_bucket"],
        "MODEL_BUCKET": outputs["model_bucket"],
        "PREDICTIONS_BUCKET": outputs["predictions_bucket"],
        "MONITORING_BUCKET": outputs["monitoring_bucket"],
        "LOG_LEVEL": "INFO",
        "OMP_NUM_THREADS": "1",
    }
    names = outputs["function_names"]
    signing = {"MODEL_SIGNING_KEY_ID": outputs["model_signing_key_arn"]}
    assert signing["MODEL_SIGNING_KEY_ID"].startswith("arn:aws:kms:us-east-1:")
    extra = {
        "train": {"BREAKER_FUNCTION_NAME": names["breaker"], **signing},
        "infer": {
            "BREAKER_FUNCTION_NAME": names["breaker"],
            **signing,
            "MLCYCLE_SHARD_BYTES": str(256 * 2**20),
            "MLCYCLE_MAX_SHARDS": "100",
            "MLCYCLE_SHARD_DEADLINE_S": "3600",
            "MALLOC_MMAP_THRESHOLD_": "131072",
            "MALLOC_ARENA_MAX": "2",
        },
        "monitor": {"BREAKER_FUNCTION_NAME": names["breaker"], **signing},
        "breaker": {
            "INFERENCE_RULE_NAME": outputs["inference_rule_name"],
            "TRAIN_FUNCTION_NAME": names["train"],
            "INFER_FUNCTION_NAME": names["infer"],
        },
    }
    for fn in FUNCTIONS:
        env = aws("lambda").get_function_configuration(FunctionName=names[fn])["Environment"][
            "Variables"
        ]
        assert env == {**buckets, **extra[fn]}, (
            fn
        )  # no AWS_ENDPOINT_URL unless function_endpoint_url is set


def test_layer_packaging_attaches_the_layer_and_deploys_code_only_zips(stack, aws):
    outputs, _, packages, *_ = stack
    lam = aws("lambda")
    layer = lam.get_layer_version(
        LayerName="mlcycle-dependencies", VersionNumber=int(outputs["layer_arn"].split(":")[-1])
    )
    assert layer["Content"]["CodeSha256"] == _b64sha(packages / "layer.zip")
    assert layer["CompatibleRuntimes"] == ["python3.11"]
    for fn in FUNCTIONS:
        config = lam.get_function_configuration(FunctionName=outputs["function_names"][fn])
        assert [entry["Arn"] for entry in config["Layers"]] == [outputs["layer_arn"]]
        assert config["CodeSha256"] == _b64sha(packages / "functions" / f"{fn}.zip")


def test_code_and_layer_are_uploaded_through_the_artifacts_bucket(stack, aws):
    outputs, _, packages, *_ = stack
    keys = {
        o["Key"]
        for o in aws("s3").list_objects_v2(Bucket=outputs["artifacts_bucket"]).get("Contents", [])
    }
    layer_hex = hashlib.sha256((packages / "layer.zip").read_bytes()).hexdigest()
    assert f"layers/dependencies-{layer_hex}.zip" in keys
    for fn in FUNCTIONS:
        digest = hashlib.sha256((packages / "functions" / f"{fn}.zip").read_bytes()).hexdigest()
        assert f"functions/layer/{digest}.zip" in keys


# --- storage ------------------------------------------------------------------------------


def test_buckets_are_private_encrypted_and_versioned(stack, aws):
    outputs, *_ = stack
    s3 = aws("s3")
    assert set(outputs["buckets"]) == {"data", "models", "predictions", "monitoring", "artifacts"}
    for bucket in outputs["buckets"].values():
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(
            block[k]
            for k in (
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            )
        )
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        assert (
            s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0][
                "ObjectOwnership"
            ]
            == "BucketOwnerEnforced"
        )


# --- triggers ------------------------------------------------------------------------------


def test_schedules_target_their_functions_and_may_invoke_them(stack, aws):
    outputs, *_ = stack
    events, lam = aws("events"), aws("lambda")
    expected = {
        "training": ("cron(0 3 * * ? *)", "train"),
        "inference": ("rate(1 hour)", "infer"),
        "monitoring": ("rate(6 hours)", "monitor"),
    }
    assert outputs["rule_names"]["inference"] == outputs["inference_rule_name"]
    for key, (schedule, fn) in expected.items():
        rule = events.describe_rule(Name=outputs["rule_names"][key])
        assert (rule["ScheduleExpression"], rule["State"]) == (schedule, "ENABLED")
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert [t["Arn"] for t in targets] == [outputs["function_arns"][fn]]
        policy = json.loads(lam.get_policy(FunctionName=outputs["function_names"][fn])["Policy"])
        assert any(
            st["Principal"] == {"Service": "events.amazonaws.com"}
            and st["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]
            for st in policy["Statement"]
        )


def test_s3_notifications_route_uploads_by_prefix_and_suffix(stack, aws):
    outputs, *_ = stack
    s3, arns = aws("s3"), outputs["function_arns"]

    def routes(bucket):
        configs = s3.get_bucket_notification_configuration(Bucket=bucket)[
            "LambdaFunctionConfigurations"
        ]
        return {
            (
                c["LambdaFunctionArn"],
                tuple(
                    sorted(
                        (r["Name"].lower(), r["Value"]) for r in c["Filter"]["Key"]["FilterRules"]
                    )
                ),
                tuple(c["Events"]),
            )
            for c in configs
        }

    assert routes(outputs["data_bucket"]) == {
        (arns["infer"], (("prefix", "incoming/"), ("suffix", ".csv")), ("s3:ObjectCreated:*",)),
        (arns["monitor"], (("prefix", "labels/"),), ("s3:ObjectCreated:*",)),
    }
    assert routes(outputs["predictions_bucket"]) == {
        (arns["monitor"], (("suffix", "_SUCCESS"),), ("s3:ObjectCreated:*",))
    }
    for fn, bucket in (("infer", "data"), ("monitor", "data"), ("monitor", "predictions")):
        policy = json.loads(
            aws("lambda").get_policy(FunctionName=outputs["function_names"][fn])["Policy"]
        )
        assert any(
            st["Principal"] == {"Service": "s3.amazonaws.com"}
            and st["Condition"]["ArnLike"]["AWS:SourceArn"]
            == f"arn:aws:s3:::{outputs['buckets'][bucket]}"
            for st in policy["Statement"]
        ), (fn, bucket)


# --- IAM ---------------------------------------------------------------------------------------


def test_each_role_reaches_only_its_bucket_prefixes(stack, aws):
    outputs, *_ = stack
    arn = {k: f"arn:aws:s3:::{v}" for k, v in outputs["buckets"].items()}
    train, infer, monitor, breaker = (_role_policy(aws, fn) for fn in FUNCTIONS)

    assert _allows(train, "s3:GetObject", f"{arn['data']}/training/bookings/x.csv")
    assert _allows(train, "s3:GetObject", f"{arn['data']}/labels/b1.csv")
    assert not _allows(train, "s3:PutObject", f"{arn['data']}/training/x.csv")
    assert _allows(train, "s3:PutObject", f"{arn['models']}/models/m/v1/model.joblib")
    assert not _allows(
        train, "s3:PutObject", f"{arn['predictions']}/predictions/b1/predictions.csv"
    )

    assert _allows(infer, "s3:GetObject", f"{arn['data']}/incoming/b1/bookings.csv")
    assert _allows(infer, "s3:PutObject", f"{arn['data']}/held/b1/bookings.csv")
    assert _allows(infer, "s3:DeleteObject", f"{arn['data']}/incoming/b1/bookings.csv")
    assert _allows(infer, "s3:PutObject", f"{arn['data']}/quarantine/b1/reason.json")
    assert not _allows(infer, "s3:GetObject", f"{arn['data']}/training/bookings/x.csv")
    assert not _allows(infer, "s3:PutObject", f"{arn['models']}/models/m/aliases.json")
    assert _allows(infer, "s3:PutObject", f"{arn['predictions']}/predictions/b1/_SUCCESS")
    assert _allows(infer, "s3:DeleteObject", f"{arn['predictions']}/predictions/b1/_LEASE")
    assert not _allows(infer, "s3:DeleteObject", f"{arn['data']}/quarantine/b1/bookings.csv")
    # poison-batch attempt counters
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert _allows(infer, action, f"{arn['monitoring']}/failures/b1.json"), action
    # a pinned input is read by its version id
    assert _allows(infer, "s3:GetObjectVersion", f"{arn['data']}/incoming/b1/bookings.csv")

    assert _allows(monitor, "s3:PutObject", f"{arn['monitoring']}/reports/b1.json")
    assert not _allows(monitor, "s3:DeleteObject", f"{arn['monitoring']}/reports/b1.json")
    assert not _allows(monitor, "s3:PutObject", f"{arn['predictions']}/predictions/b1/_SUCCESS")
    assert not _allows(train, "s3:DeleteObject", f"{arn['models']}/models/m/aliases.json")

    assert _allows(breaker, "s3:PutObject", f"{arn['monitoring']}/breaker/events.jsonl")
    # the window of recent batches: the monitor keeps it, the gate reads it, the breaker writes
    # an operator's accepted shift into it
    window = f"{arn['monitoring']}/limits/booking_status/window.json"
    for statements, may_write in ((monitor, True), (breaker, True), (infer, False)):
        assert _allows(statements, "s3:GetObject", window)
        assert _allows(statements, "s3:PutObject", window) == may_write
        assert not _allows(statements, "s3:DeleteObject", window)
    assert not _allows(train, "s3:GetObject", window)
    assert not _allows(breaker, "s3:DeleteObject", f"{arn['predictions']}/predictions/b1/_SUCCESS")
    assert _allows(breaker, "s3:PutObject", f"{arn['predictions']}/predictions/b1/predictions.csv")
    # the champion is read (recorded with a trip, checked against a promotion claim); only an
    # operator's rollback writes the alias, never a version
    assert _allows(breaker, "s3:GetObject", f"{arn['models']}/models/m/aliases.json")
    aliases = f"{arn['models']}/models/booking_status/aliases.json"
    assert _allows(breaker, "s3:PutObject", aliases)
    assert not _allows(breaker, "s3:PutObject", f"{arn['models']}/models/m/aliases.json")
    version = f"{arn['models']}/models/booking_status/v0001/model.joblib"
    assert not _allows(breaker, "s3:PutObject", version)
    for statements in (train, infer, monitor, breaker):
        assert not _allows(statements, "s3:GetObject", f"{arn['artifacts']}/functions/x.zip")
        for st in statements:
            if {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} & set(st["Action"]):
                # every object grant names a prefix: no bucket-wide object access anywhere
                assert all(
                    re.fullmatch(r"arn:aws:s3:::[^/*]+/[a-z]+/\S*", r) for r in st["Resource"]
                ), st
            if st["Action"] == ["s3:ListBucket"]:
                prefixes = st["Condition"]["StringLikeIfExists"]["s3:prefix"]
                assert all(
                    re.fullmatch(r"[a-z]+/[^*]*\*", p)
                    for p in ([prefixes] if isinstance(prefixes, str) else prefixes)
                ), st


def test_only_the_breaker_switches_the_rule_and_invokes_train_and_infer(stack, aws):
    outputs, *_ = stack
    rule_arn = aws("events").describe_rule(Name=outputs["inference_rule_name"])["Arn"]
    arns = outputs["function_arns"]
    policies = {fn: _role_policy(aws, fn) for fn in FUNCTIONS}
    for action in ("events:DisableRule", "events:EnableRule"):
        assert _allows(policies["breaker"], action, rule_arn)
        assert not _allows(
            policies["breaker"],
            action,
            aws("events").describe_rule(Name=outputs["rule_names"]["training"])["Arn"],
        )
        assert not any(
            _allows(policies[fn], action, rule_arn) for fn in ("train", "infer", "monitor")
        )
    assert _allows(policies["breaker"], "lambda:InvokeFunction", arns["train"])
    assert _allows(policies["breaker"], "lambda:InvokeFunction", arns["infer"])
    assert not _allows(policies["breaker"], "lambda:InvokeFunction", arns["monitor"])
    assert _allows(policies["monitor"], "lambda:InvokeFunction", arns["breaker"])
    assert _allows(policies["infer"], "lambda:InvokeFunction", arns["breaker"])  # the gate
    assert _allows(policies["infer"], "lambda:InvokeFunction", arns["infer"])  # its shards
    for fn in ("train", "monitor"):
        assert not _allows(policies["infer"], "lambda:InvokeFunction", arns[fn]), fn
    for fn in FUNCTIONS:
        # every function may report BreakerStateInvalid, into the model's namespace only
        metric = [st for st in policies[fn] if "cloudwatch:PutMetricData" in st["Action"]]
        assert [(st["Action"], st["Resource"], st["Condition"]) for st in metric] == [
            (
                ["cloudwatch:PutMetricData"],
                ["*"],
                {"StringEquals": {"cloudwatch:namespace": outputs["metric_namespace"]}},
            )
        ], fn
        logs = (
            "arn:aws:logs:us-east-1:123456789012:log-group:"
            f"/aws/lambda/{outputs['function_names'][fn]}:log-stream:x"
        )
        assert _allows(policies[fn], "logs:PutLogEvents", logs)
        assert not _allows(policies[fn], "logs:PutLogEvents", logs.replace(fn, "other"))
        assert _allows(policies[fn], "sqs:SendMessage", outputs["dead_letter_queue_arns"][fn])


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def test_only_the_breaker_writes_the_breaker_state(stack, aws):
    outputs, *_ = stack
    policies = {fn: _role_policy(aws, fn) for fn in FUNCTIONS}
    for key in ("breaker/state.json", "breaker/events.jsonl"):
        arn = f"arn:aws:s3:::{outputs['monitoring_bucket']}/{key}"
        for fn in FUNCTIONS:
            assert _allows(policies[fn], "s3:GetObject", arn), (fn, key)  # all read, fail closed
            assert _allows(policies[fn], "s3:PutObject", arn) == (fn == "breaker"), (fn, key)
            assert not _allows(policies[fn], "s3:DeleteObject", arn), (fn, key)


def test_only_train_signs_models_infer_and_monitor_verify_the_breaker_has_no_key(stack, aws):
    outputs, *_ = stack
    key_arn = outputs["model_signing_key_arn"]
    kms = aws("kms")
    meta = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    assert (meta["KeyUsage"], meta["KeySpec"], meta["KeyManager"]) == (
        "SIGN_VERIFY",
        "ECC_NIST_P256",
        "CUSTOMER",
    )
    assert "ECDSA_SHA_256" in meta["SigningAlgorithms"]
    aliases = kms.list_aliases(KeyId=meta["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/mlcycle-model-signing"]

    policies = {fn: _role_policy(aws, fn) for fn in FUNCTIONS}
    may = {
        "train": {"kms:Sign", "kms:Verify"},  # train also verifies the champion it competes with
        "infer": {"kms:Verify"},
        "monitor": {"kms:Verify"},
        "breaker": set(),
    }
    probes = ("kms:Sign", "kms:Verify", "kms:GetPublicKey", "kms:DescribeKey", "kms:CreateGrant")
    for fn in FUNCTIONS:
        assert {a for a in probes if _allows(policies[fn], a, key_arn)} == may[fn], fn
        for st in policies[fn]:  # no KMS permission on any other key
            if any(fnmatch.fnmatchcase("kms:Verify", a) for a in st["Action"]):
                assert st["Resource"] == [key_arn], (fn, st)

    # Whatever IAM grants, the key policy lets the train role alone sign.
    statements = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])[
        "Statement"
    ]
    train_role = f"arn:aws:iam::{meta['AWSAccountId']}:role/mlcycle-train-role"
    assert [
        (st["Principal"], st["Condition"])
        for st in statements
        if st["Effect"] == "Deny" and _as_list(st["Action"]) == ["kms:Sign"]
    ] == [({"AWS": "*"}, {"ArnNotEquals": {"aws:PrincipalArn": train_role}})]

    # The emulator takes the library's Sign/Verify call (a sha256 digest, ECDSA_SHA_256).
    digest = hashlib.sha256(b"models/booking_status/v1").digest()
    call = {"KeyId": key_arn, "MessageType": "DIGEST", "SigningAlgorithm": "ECDSA_SHA_256"}
    signature = kms.sign(Message=digest, **call)["Signature"]
    assert kms.verify(Message=digest, Signature=signature, **call)["SignatureValid"] is True
    other = hashlib.sha256(b"models/booking_status/v2").digest()
    try:
        valid = kms.verify(Message=other, Signature=signature, **call)["SignatureValid"]
    except kms.exceptions.KMSInvalidSignatureException:
        valid = False
    assert valid is False


def test_every_topic_is_encrypted_with_a_key_cloudwatch_may_use(stack, aws):
    outputs, *_ = stack
    kms, sns = aws("kms"), aws("sns")
    key_arn = outputs["notifications_key_arn"]
    meta = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    account = meta["AWSAccountId"]
    assert (meta["KeyUsage"], meta["KeySpec"], meta["KeyManager"]) == (
        "ENCRYPT_DECRYPT",
        "SYMMETRIC_DEFAULT",
        "CUSTOMER",
    )
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    statements = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])[
        "Statement"
    ]
    by_principal = {json.dumps(st["Principal"], sort_keys=True): st for st in statements}
    admin = by_principal[json.dumps({"AWS": f"arn:aws:iam::{account}:root"})]
    assert (admin["Effect"], _as_list(admin["Action"])) == ("Allow", ["kms:*"])
    cloudwatch = by_principal[json.dumps({"Service": "cloudwatch.amazonaws.com"})]
    assert cloudwatch["Effect"] == "Allow"
    assert set(_as_list(cloudwatch["Action"])) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
    assert len(statements) == 2

    assert outputs["operators_topic_arn"].endswith(":mlcycle-operators")
    assert outputs["warnings_topic_arn"].endswith(":mlcycle-warnings")
    topics = ("alarm_topic_arn", "warnings_topic_arn", "operators_topic_arn")
    for topic in (outputs[t] for t in topics):
        attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
        assert attrs["KmsMasterKeyId"] == key_arn, topic
        publish = [
            st
            for st in json.loads(attrs["Policy"])["Statement"]
            if st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        ]
        assert [(st["Action"], st["Resource"], st["Condition"]) for st in publish] == [
            ("sns:Publish", topic, {"StringEquals": {"aws:SourceAccount": account}})
        ], topic


def test_an_invalid_breaker_state_pages_the_operators_never_the_breaker(stack, aws):
    outputs, *_ = stack
    [alarm] = aws("cloudwatch").describe_alarms(
        AlarmNames=[outputs["breaker_state_invalid_alarm_name"]]
    )["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]) == (
        "MLCycle/booking_status",
        "BreakerStateInvalid",
        [{"Name": "ModelName", "Value": "booking_status"}],
    )
    assert (
        alarm["Statistic"],
        alarm["Period"],
        alarm["EvaluationPeriods"],
        alarm["DatapointsToAlarm"],
        alarm["ComparisonOperator"],
        alarm["Threshold"],
        alarm["TreatMissingData"],
    ) == ("Maximum", 300, 1, 1, "GreaterThanOrEqualToThreshold", 1.0, "notBreaching")
    assert alarm["AlarmActions"] == [outputs["operators_topic_arn"]]
    assert alarm["OKActions"] == [] and alarm["InsufficientDataActions"] == []
    # Nothing on the operators topic reaches the breaker (no subscription by default).
    sns = aws("sns")
    assert (
        sns.list_subscriptions_by_topic(TopicArn=outputs["operators_topic_arn"])["Subscriptions"]
        == []
    )
    people = {alarm["AlarmName"], alarm["AlarmName"].replace("BreakerStateInvalid", "HeldTooLong")}
    for other in aws("cloudwatch").describe_alarms()["MetricAlarms"]:
        if other["AlarmName"] not in people:
            assert outputs["operators_topic_arn"] not in other["AlarmActions"], other["AlarmName"]
        else:
            assert other["AlarmActions"] == [outputs["operators_topic_arn"]]


def test_the_breaker_has_reserved_concurrency_infer_is_capped_the_others_share_the_pool(stack, aws):
    outputs, *_ = stack
    lam = aws("lambda")
    expected = {"breaker": 2, "infer": 10}
    for fn in FUNCTIONS:
        answer = lam.get_function_concurrency(FunctionName=outputs["function_names"][fn])
        reserved = answer.get("ReservedConcurrentExecutions")
        assert reserved == expected.get(fn), fn
        storage = lam.get_function_configuration(FunctionName=outputs["function_names"][fn])
        assert storage["EphemeralStorage"]["Size"] == (4096 if fn == "infer" else 512), fn


# --- failure destinations --------------------------------------------------------------------


def test_each_function_sends_failed_async_events_to_its_dead_letter_queue(stack, aws):
    outputs, *_ = stack
    lam, sqs = aws("lambda"), aws("sqs")
    for fn in FUNCTIONS:
        config = lam.get_function_event_invoke_config(FunctionName=outputs["function_names"][fn])
        assert (
            config["DestinationConfig"]["OnFailure"]["Destination"]
            == outputs["dead_letter_queue_arns"][fn]
        )
        assert config["MaximumRetryAttempts"] == 2
        attrs = sqs.get_queue_attributes(
            QueueUrl=outputs["dead_letter_queue_urls"][fn], AttributeNames=["All"]
        )["Attributes"]
        assert attrs["QueueArn"] == outputs["dead_letter_queue_arns"][fn]
        assert attrs["SqsManagedSseEnabled"] == "true"
        assert attrs["MessageRetentionPeriod"] == "1209600"


# --- alarms, breaker subscription, dashboard -----------------------------------------------------


def _alarms(aws) -> list[dict]:
    return [
        a
        for page in aws("cloudwatch").get_paginator("describe_alarms").paginate()
        for a in page["MetricAlarms"]
    ]


def test_verdict_alarms_come_from_the_rule_table(stack, aws):
    """A trip alarm per rule that may trip (-> breaker), a warning alarm per rule (-> warnings);
    none for the rule the config disables, nor for one judged only on held batches."""
    from mlcycle.monitoring.rules import RULES

    outputs, *_ = stack
    enabled = [r for r in RULES if r.alarmed and r.name != "EstimateError"]
    assert [r.name for r in RULES if not r.alarmed] == ["LabelsOverdue"]
    verdicts = {a["AlarmName"]: a for a in _alarms(aws) if a["MetricName"] == "RuleVerdict"}
    trips = {r.name: f"mlcycle-booking_status-{r.name}-trip" for r in enabled if r.trips}
    warnings = {r.name: f"mlcycle-booking_status-{r.name}-warning" for r in enabled}
    assert (outputs["trip_alarm_names"], outputs["warning_alarm_names"]) == (trips, warnings)
    assert set(verdicts) == set(trips.values()) | set(warnings.values())
    assert (len(trips), len(warnings)) == (8, 11) and "FeatureDrift" not in trips
    for names, threshold, topic, ok in (
        (trips, 2.0, outputs["alarm_topic_arn"], [outputs["alarm_topic_arn"]]),
        (warnings, 1.0, outputs["warnings_topic_arn"], []),
    ):
        for rule, name in names.items():
            alarm = verdicts[name]
            assert alarm["Namespace"] == "MLCycle/booking_status"
            assert sorted((d["Name"], d["Value"]) for d in alarm["Dimensions"]) == [
                ("ModelName", "booking_status"),
                ("Rule", rule),
            ]
            assert (
                alarm["Statistic"],
                alarm["Period"],
                alarm["EvaluationPeriods"],
                alarm["DatapointsToAlarm"],
                alarm["ComparisonOperator"],
                alarm["Threshold"],
                alarm["TreatMissingData"],
            ) == (
                "Maximum",
                300,
                1,
                1,
                "GreaterThanOrEqualToThreshold",
                threshold,
                "notBreaching",
            ), name
            assert (alarm["AlarmActions"], alarm["OKActions"]) == ([topic], ok), name
    assert "calibrated confidence" in verdicts[trips["EstimatedAccuracy"]]["AlarmDescription"]


def test_raw_metric_alarms_are_only_those_the_config_asks_for(stack, aws):
    outputs, *_ = stack
    alarms = {a["MetricName"]: a for a in _alarms(aws) if a["MetricName"] != "RuleVerdict"}
    # metric: (comparison, threshold, statistic, evaluation periods, datapoints to alarm)
    expected = {
        "JoinCoverage": ("LessThanThreshold", 0.75, "Minimum", 1, 1),
        "PredictionDrift": ("GreaterThanThreshold", 0.3, "Maximum", 1, 1),
        "RealisedAccuracy": ("LessThanOrEqualToThreshold", 0.55, "Minimum", 2, 2),
        "VolumeRatio": ("LessThanThreshold", 0.5, "Minimum", 1, 1),
    }
    assert set(alarms) == set(expected) | {"BreakerStateInvalid", "HeldTooLong"}  # operators.tf
    assert set(outputs["alarm_names"]) == set(expected)
    for metric, (comparison, threshold, statistic, periods, needed) in expected.items():
        alarm = alarms[metric]
        assert alarm["AlarmName"] == outputs["alarm_names"][metric]
        assert alarm["Namespace"] == outputs["metric_namespace"] == "MLCycle/booking_status"
        assert alarm["Dimensions"] == [{"Name": "ModelName", "Value": "booking_status"}]
        assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["Statistic"]) == (
            comparison,
            threshold,
            statistic,
        )
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (periods, needed)
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [outputs["alarm_topic_arn"]]
        assert alarm["OKActions"] == [outputs["alarm_topic_arn"]]


def test_the_breaker_is_subscribed_to_the_alarm_topic(stack, aws):
    outputs, *_ = stack
    subs = aws("sns").list_subscriptions_by_topic(TopicArn=outputs["alarm_topic_arn"])[
        "Subscriptions"
    ]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [
        ("lambda", outputs["function_arns"]["breaker"])
    ]
    policy = json.loads(
        aws("lambda").get_policy(FunctionName=outputs["function_names"]["breaker"])["Policy"]
    )
    assert any(
        st["Principal"] == {"Service": "sns.amazonaws.com"}
        and st["Condition"]["ArnLike"]["AWS:SourceArn"] == outputs["alarm_topic_arn"]
        for st in policy["Statement"]
    )
    topic_policy = json.loads(
        aws("sns").get_topic_attributes(TopicArn=outputs["alarm_topic_arn"])["Attributes"]["Policy"]
    )
    assert any(
        st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        for st in topic_policy["Statement"]
    )


def test_the_dashboard_shows_metrics_thresholds_alarm_states_and_breaker_state(stack, aws):
    outputs, *_ = stack
    body = json.loads(
        aws("cloudwatch").get_dashboard(DashboardName=outputs["dashboard_name"])["DashboardBody"]
    )
    widgets = body["widgets"]
    shown = [a for w in widgets if w["type"] == "alarm" for a in w["properties"]["alarms"]]
    alarms = _alarms(aws)
    assert sorted(shown) == sorted(a["AlarmArn"] for a in alarms)  # each alarm once
    plotted: dict[tuple, list[dict]] = {}
    for widget in (w for w in widgets if w["type"] == "metric"):
        for metric in widget["properties"]["metrics"]:
            plotted.setdefault(tuple(metric[1:]), []).append(widget)
    assert ("BreakerState", "ModelName", "booking_status") in plotted
    for alarm in alarms:
        named = sorted(alarm["Dimensions"], key=lambda d: d["Name"])  # a widget's order
        dimensions = [x for d in named for x in (d["Name"], d["Value"])]
        widgets_of = plotted[(alarm["MetricName"], *dimensions)]
        thresholds = {
            a["value"]
            for w in widgets_of
            for a in w["properties"].get("annotations", {}).get("horizontal", [])
        }
        assert alarm["Threshold"] in thresholds, alarm["AlarmName"]


def test_outputs_name_everything_a_user_needs(stack):
    outputs, url, *_ = stack
    for key in (
        "data_bucket",
        "model_bucket",
        "predictions_bucket",
        "monitoring_bucket",
        "artifacts_bucket",
        "function_names",
        "function_arns",
        "rule_names",
        "inference_rule_name",
        "alarm_topic_arn",
        "warnings_topic_arn",
        "operators_topic_arn",
        "trip_alarm_names",
        "warning_alarm_names",
        "breaker_state_invalid_alarm_name",
        "model_signing_key_arn",
        "notifications_key_arn",
        "dead_letter_queue_urls",
        "dashboard_name",
        "layer_arn",
        "metric_namespace",
        "log_group_names",
    ):
        assert outputs[key], key
    assert outputs["endpoint_url"] == url
    assert set(outputs["function_names"]) == set(FUNCTIONS)


def test_the_outputs_are_read_back_from_the_state_dir(stack):
    outputs, url, _, _, state_dir = stack
    assert deploy.outputs(url, state_dir) == outputs


# --- deploy CLI without an emulator ---------------------------------------------------------------


def test_cli_config_uses_the_filesystem_mirror_only_for_the_aws_provider(tmp_path):
    text = cli_config(Path("/opt/tf-plugins"), plugin_cache=tmp_path)
    assert (
        'filesystem_mirror {\n    path    = "/opt/tf-plugins"\n'
        '    include = ["registry.terraform.io/hashicorp/aws"]' in text
    )
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in text
    direct = cli_config(None, plugin_cache=tmp_path / "cache")
    assert "direct {}" in direct and f'plugin_cache_dir = "{tmp_path / "cache"}"' in direct
    assert (tmp_path / "cache").is_dir()


def test_a_mirror_is_found_from_tf_plugin_mirror(tmp_path, monkeypatch):
    provider = tmp_path / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0" / "linux_amd64"
    provider.mkdir(parents=True)
    (provider / "terraform-provider-aws_v5.100.0_x5").write_bytes(b"")
    monkeypatch.setenv("TF_PLUGIN_MIRROR", str(tmp_path))
    assert find_provider_mirror() == tmp_path
    monkeypatch.setenv("TF_PLUGIN_MIRROR", str(tmp_path / "empty"))
    with pytest.raises(DeployError, match="holds no"):
        find_provider_mirror()


def test_each_endpoint_gets_its_own_state_dir():
    assert deploy.default_state_dir("") == deploy.STATE_ROOT / "aws"
    assert deploy.default_state_dir("http://127.0.0.1:4566") == deploy.STATE_ROOT / "127.0.0.1-4566"
    assert (
        deploy.default_state_dir("http://localstack:4566") == deploy.STATE_ROOT / "localstack-4566"
    )


def test_package_variables_come_from_the_manifest_with_checked_hashes(tmp_path):
    packages = write_placeholder_packages(tmp_path / "packages")
    layer = variables.package_vars(packages, "layer")
    assert set(layer) == {"layer", "functions"}
    assert layer["layer"]["base64sha256"] == _b64sha(packages / "layer.zip")
    assert set(variables.package_vars(packages, "bundled")) == {"bundled"}
    (packages / "functions" / "infer.zip").write_bytes(b"rebuilt without the manifest")
    with pytest.raises(DeployError, match="functions/infer.*make package"):
        variables.package_vars(packages, "layer")
    with pytest.raises(DeployError, match="make package"):
        variables.package_vars(tmp_path / "nothing", "layer")


def test_emulator_variables_add_throwaway_settings_only_for_emulators(tmp_path):
    packages = write_placeholder_packages(tmp_path / "packages")
    emulated = variables.tf_variables("http://127.0.0.1:1", "bundled", packages, None)
    aws = variables.tf_variables("", "bundled", packages, None)
    assert (
        emulated["force_destroy_buckets"] is True
        and emulated["noncurrent_version_retention_days"] == 0
    )
    assert aws["force_destroy_buckets"] is False and "noncurrent_version_retention_days" not in aws
    assert emulated["rules"] == aws["rules"] == variables.rule_variables()  # without a config too


def test_model_settings_read_the_alarm_section_like_the_monitor_does(tmp_path):
    settings = variables.model_settings(ROOT / "model" / "model_config.yml")
    assert settings["model_name"] == "booking_status"
    assert settings["rules"] == variables.rule_variables()  # the repo's config disables none
    for entry in settings.get("alarm_overrides", {}).values():
        assert entry["comparison_operator"] in (
            "GreaterThanThreshold",
            "GreaterThanOrEqualToThreshold",
            "LessThanThreshold",
            "LessThanOrEqualToThreshold",
        )
    broken = yaml.safe_load((ROOT / "model" / "model_config.yml").read_text())
    broken["monitoring"] = {"alarms": {"join_coverage": 0.8}}
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    with pytest.raises(DeployError, match="_min or _max"):
        variables.model_settings(tmp_path / "broken.yml")


def test_a_second_plan_finds_nothing_to_change(stack):
    """No perpetual diff: what the emulator answers matches what Terraform applied."""
    _, url, _, _, state_dir = stack
    assert deploy.pending_changes(url, state_dir) == []


def test_a_stack_applied_before_the_shared_topic_module_and_verdict_alarms_only_moves(
    stack, tmp_path
):
    """A state with the addresses of before (operators and warnings topics at the root, trip and
    warning alarms as two resources) plans nothing to create or destroy: a replaced e-mail
    subscription would wait for its address to confirm again."""
    outputs, url, _, _, state_dir = stack
    shutil.copy(state_dir / "deploy.tfvars.json", tmp_path / "deploy.tfvars.json")
    before = {
        f'aws_cloudwatch_metric_alarm.{tier}["{rule}"]': (
            f'aws_cloudwatch_metric_alarm.verdict["{rule}-{tier}"]'
        )
        for tier in ("trip", "warning")
        for rule in outputs[f"{tier}_alarm_names"]
    }
    for topic in ("operators", "warnings"):
        module = f'module.email_topic["{topic}"]'
        before[f"aws_sns_topic.{topic}"] = f"{module}.aws_sns_topic.this"
        before[f"aws_sns_topic_policy.{topic}"] = f"{module}.aws_sns_topic_policy.this"
    before[f'aws_sns_topic_subscription.warning_email["{WATCHER}"]'] = (
        f'module.email_topic["warnings"].aws_sns_topic_subscription.email["{WATCHER}"]'
    )
    # The state such a stack has: the same objects, at their old addresses.
    state = json.loads((state_dir / "terraform.tfstate").read_text())
    for old, new in before.items():
        _move_in_state(state, new, old)
    (tmp_path / "terraform.tfstate").write_text(json.dumps(state))
    assert deploy.pending_changes(url, tmp_path) == []


_ADDRESS = re.compile(r'^(?:(module\.\w+\["[^"]*"\])\.)?(\w+)\.(\w+)(?:\["([^"]*)"\])?$')


def _move_in_state(state: dict, source: str, target: str) -> None:
    """What `terraform state mv source target` does to a state file's JSON, done in place: a
    `terraform state mv` a move took seconds and left a timestamped backup in the module."""
    (src_module, src_type, src_name, src_key), (dst_module, dst_type, dst_name, dst_key) = (
        _ADDRESS.fullmatch(address).groups() for address in (source, target)
    )
    resources = state["resources"]
    origin = next(
        r
        for r in resources
        if (r.get("module"), r["type"], r["name"]) == (src_module, src_type, src_name)
    )
    instance = next(i for i in origin["instances"] if i.get("index_key") == src_key)
    origin["instances"].remove(instance)
    if not origin["instances"]:
        resources.remove(origin)
    instance.pop("index_key", None)
    if dst_key is not None:
        instance["index_key"] = dst_key
    home = next(
        (
            r
            for r in resources
            if (r.get("module"), r["type"], r["name"]) == (dst_module, dst_type, dst_name)
        ),
        None,
    )
    if home is None:
        home = {k: v for k, v in origin.items() if k not in ("module", "instances")}
        home |= {"type": dst_type, "name": dst_name, "instances": []}
        if dst_module:
            home["module"] = dst_module
        resources.append(home)
    home["instances"].append(instance)
    state["serial"] += 1


def test_the_breaker_state_exists_from_deployment_on_and_is_never_reset(stack, aws):
    outputs, url, *_ = stack
    s3, bucket = aws("s3"), outputs["buckets"]["monitoring"]
    state = json.loads(s3.get_object(Bucket=bucket, Key="breaker/state.json")["Body"].read())
    assert (state["state"], state["revision"]) == ("CLOSED", 0)
    opened = {**state, "state": "OPEN", "revision": 1}
    s3.put_object(Bucket=bucket, Key="breaker/state.json", Body=json.dumps(opened).encode())
    try:
        assert deploy.init_state(url, outputs) is False  # what every later apply runs
        kept = json.loads(s3.get_object(Bucket=bucket, Key="breaker/state.json")["Body"].read())
        assert kept["state"] == "OPEN"
    finally:
        s3.put_object(Bucket=bucket, Key="breaker/state.json", Body=json.dumps(state).encode())


def test_deletes_are_limited_to_what_each_function_moves_or_releases(stack, aws):
    outputs, *_ = stack
    arn = {k: f"arn:aws:s3:::{v}" for k, v in outputs["buckets"].items()}
    infer, monitor = _role_policy(aws, "infer"), _role_policy(aws, "monitor")
    assert _allows(infer, "s3:DeleteObject", f"{arn['predictions']}/predictions/b1/_LEASE")
    assert not _allows(infer, "s3:DeleteObject", f"{arn['predictions']}/predictions/b1/_SUCCESS")
    assert not _allows(
        infer, "s3:DeleteObject", f"{arn['predictions']}/probation/b1/predictions.csv"
    )
    assert _allows(monitor, "s3:DeleteObject", f"{arn['monitoring']}/reports/_runs/b1/abc")
    assert not _allows(monitor, "s3:DeleteObject", f"{arn['monitoring']}/reports/b1.json")
    # versions are read only where a manifest pins inputs: the data bucket
    assert _allows(monitor, "s3:GetObjectVersion", f"{arn['data']}/incoming/b1/bookings.csv")
    assert not _allows(
        monitor, "s3:GetObjectVersion", f"{arn['models']}/models/m/v0001/model.joblib"
    )
