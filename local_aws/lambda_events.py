"""The events AWS hands to a Lambda function, in their documented shapes.

S3 notification: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
EventBridge scheduled event: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html
SNS -> Lambda: https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html
CloudWatch alarm -> SNS message: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-sns-notifications.html
Async invocation failure record: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
Times are the executor's virtual clock.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from urllib.parse import quote_plus

ACCOUNT = "123456789012"  # moto's and LocalStack's default account
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "Europe (Ireland)",
    "eu-central-1": "Europe (Frankfurt)",
}


def iso(t: datetime, millis: bool = True) -> str:
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{t.microsecond // 1000:03d}Z" if millis else f"{text}Z"


def s3_object_created(
    bucket: str,
    key: str,
    size: int,
    etag: str,
    version_id: str | None,
    region: str,
    configuration_id: str,
    at: datetime,
    sequence: int,
) -> dict:
    # URL-encoded as S3 does it: spaces become "+", "/" stays.
    obj = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag.strip('"'),
        "sequencer": f"{sequence:016X}",
    }
    if version_id and version_id != "null":
        obj["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": iso(at),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:LOCALEXECUTOR"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                    "x-amz-id-2": uuid.uuid4().hex,
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "LOCALEXECUTOR"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }


def scheduled(rule_arn: str, region: str, at: datetime) -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule_arn.split(":")[4] or ACCOUNT,
        "time": iso(at, millis=False),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def alarm_message(
    alarm: dict, old_state: str, new_state: str, reason: str, region: str, at: datetime
) -> dict:
    """The JSON CloudWatch publishes to SNS on an alarm state change."""
    return {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": alarm["AlarmArn"].split(":")[4],
        "AlarmConfigurationUpdatedTimestamp": iso(
            alarm["AlarmConfigurationUpdatedTimestamp"]
        ).replace("Z", "+0000")
        if isinstance(alarm.get("AlarmConfigurationUpdatedTimestamp"), datetime)
        else None,
        "NewStateValue": new_state,
        "NewStateReason": reason,
        "StateChangeTime": iso(at).replace("Z", "+0000"),
        "Region": REGION_NAMES.get(region, region),
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": old_state,
        "OKActions": alarm.get("OKActions", []),
        "AlarmActions": alarm.get("AlarmActions", []),
        "InsufficientDataActions": alarm.get("InsufficientDataActions", []),
        "Trigger": {
            "MetricName": alarm.get("MetricName"),
            "Namespace": alarm.get("Namespace"),
            "StatisticType": "Statistic",
            "Statistic": (alarm.get("Statistic") or "").upper(),
            "Unit": alarm.get("Unit"),
            "Dimensions": [
                {"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])
            ],
            "Period": alarm.get("Period"),
            "EvaluationPeriods": alarm.get("EvaluationPeriods"),
            "DatapointsToAlarm": alarm.get("DatapointsToAlarm", alarm.get("EvaluationPeriods")),
            "ComparisonOperator": alarm.get("ComparisonOperator"),
            "Threshold": alarm.get("Threshold"),
            "TreatMissingData": alarm.get("TreatMissingData", "missing"),
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def sns_notification(
    topic_arn: str, subscription_arn: str, subject: str, message: str, at: datetime
) -> dict:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": iso(at),
                    "SignatureVersion": "1",
                    "Signature": "LOCALEXECUTOR",
                    "SigningCertUrl": "https://sns.amazonaws.com/local-executor.pem",
                    "UnsubscribeUrl": f"https://sns.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def alarm_subject(new_state: str, alarm_name: str, region: str) -> str:
    return f'{new_state}: "{alarm_name}" in {REGION_NAMES.get(region, region)}'[:100]


def async_failure_record(
    function_arn: str, event: object, error: dict, attempts: int, at: datetime
) -> str:
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": iso(at),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": error,
        }
    )
