"""The local executor on the real stack: Terraform applied once to a throwaway moto_server
(bundled packaging here; test_stack.py covers the layer), then S3 uploads, schedules, async
invokes and alarms run the deployed placeholder handlers (tests/fixtures/placeholders.py).
Every placeholder run records its event in the monitoring bucket under placeholder/<fn>/.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deployment import deploy
from deployment.clients import client
from local_aws.alarms import AlarmEvaluator
from local_aws.emulator import free_port, running_emulator
from local_aws.executor import Executor, InvocationError
from local_aws.invoke_proxy import InvokeProxy, LambdaFront, serve_in_thread
from local_aws.live import WallClock
from local_aws.runtime import OutputTail
from local_aws.schedules import ScheduleError, parse_schedule
from tests.fixtures.placeholders import write_placeholder_packages

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("executor")
    packages = write_placeholder_packages(tmp / "build" / "packages")
    with running_emulator(log_path=tmp / "moto_server.log") as url:
        outputs = deploy.apply(url, "bundled", tmp / "state", packages_dir=packages, quiet=True)
        yield outputs, url, packages


@pytest.fixture
def aws(stack):
    _, url, _ = stack
    return lambda service: client(service, url)


@pytest.fixture
def executor(stack):
    """Alarms are evaluated only where a test asks.

    Each evaluation waits for the wall-clock second to end.
    """
    _, url, packages = stack
    return Executor(url, packages, START, auto_alarms=False)


@pytest.fixture
def names(stack):
    outputs, _, _ = stack
    return outputs["function_names"]


def _without_sweep(invocations):
    """The runs but the hourly hold sweep's: a schedule the breaker never disables, so it
    would blur what these tests look at."""
    return [i for i in invocations if i.event != {"action": "sweep_holds"}]


def _runs(invocations, source=None):
    return [
        (i.function.removeprefix("mlcycle-"), i.source)
        for i in _without_sweep(invocations)
        if source in (None, i.source)
    ]


def _record(aws, outputs, invocation) -> dict:
    body = (
        aws("s3")
        .get_object(Bucket=outputs["monitoring_bucket"], Key=invocation.result["recorded"])["Body"]
        .read()
    )
    return json.loads(body)


# --- invoke -----------------------------------------------------------------------------------


def test_invoke_runs_the_deployed_code_with_the_deployed_environment(stack, aws, executor, names):
    outputs, _, _ = stack
    result = executor.invoke(names["breaker"], {"hello": "world"})
    record = _record(aws, outputs, executor.invocations[-1])
    assert record["event"] == {"hello": "world"}
    assert record["function_name"] == names["breaker"]
    assert record["dependency"] == "1"  # bundled next to the code
    assert record["environment"]["DATA_BUCKET"] == outputs["data_bucket"]
    assert record["environment"]["INFERENCE_RULE_NAME"] == outputs["inference_rule_name"]
    assert result["function"] == "breaker"


def test_handlers_import_only_what_the_package_and_the_runtime_provide(executor, names):
    assert (
        executor.invoke(names["train"], {"placeholder": {"probe_import": "boto3"}})["probe_import"]
        is True
    )
    # pandas is in the test runner's virtualenv, not in the placeholder package.
    assert (
        executor.invoke(names["train"], {"placeholder": {"probe_import": "pandas"}})["probe_import"]
        is False
    )


def test_a_failing_synchronous_invoke_raises_with_the_error(executor, names):
    with pytest.raises(InvocationError, match="RuntimeError: boom"):
        executor.invoke(names["infer"], {"placeholder": {"fail": "boom"}})
    assert executor.invocations[-1].error["errorType"] == "RuntimeError"


# --- S3 notifications -----------------------------------------------------------------------------


def test_objects_stored_before_the_executor_started_are_not_redelivered(stack, aws, names):
    outputs, url, packages = stack
    aws("s3").put_object(Bucket=outputs["data_bucket"], Key="incoming/b-4/bookings.csv", Body=b"x")
    assert Executor(url, packages, START).pump() == []
    assert (
        _runs(Executor(url, packages, START, deliver_existing_objects=True).pump()).count(
            ("infer", "s3")
        )
        >= 1
    )


def test_an_upload_under_incoming_reaches_infer_as_an_s3_event(stack, aws, executor, names):
    outputs, _, _ = stack
    s3 = aws("s3")
    body = b"hotel_id,date\n1,2026-01-05\n"
    s3.put_object(Bucket=outputs["data_bucket"], Key="incoming/b-1/bookings.csv", Body=body)
    s3.put_object(
        Bucket=outputs["data_bucket"], Key="incoming/b-1/notes.txt", Body=b"not a csv"
    )  # suffix filter
    s3.put_object(
        Bucket=outputs["data_bucket"], Key="training/bookings/more.csv", Body=b"x"
    )  # no notification
    ran = executor.pump()
    assert _runs(ran) == [("infer", "s3")]
    record = ran[0].event["Records"][0]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == outputs["data_bucket"]
    assert record["s3"]["object"]["key"] == "incoming/b-1/bookings.csv"
    assert record["s3"]["object"]["size"] == len(body)
    head = s3.head_object(Bucket=outputs["data_bucket"], Key="incoming/b-1/bookings.csv")
    assert record["s3"]["object"]["eTag"] == head["ETag"].strip('"')
    assert record["s3"]["object"]["versionId"] == head["VersionId"]
    assert _record(aws, outputs, ran[0])["event"] == ran[0].event  # the handler got exactly that
    assert executor.pump() == []  # delivered once


def test_the_recording_is_read_once_per_call_and_after_each_run(stack, aws, executor):
    """Between runs only the executor's own requests reach the recording: no second read. A
    write made between two calls still arrives at the next one."""
    outputs, _, _ = stack
    takes = []
    take = executor.recorder._take
    executor.recorder._take = lambda: takes.append(1) or take()
    executor.settle()  # whatever earlier tests left
    takes.clear()

    assert executor.settle() == [] and executor.evaluate_alarms() == []
    assert len(takes) == 2  # one per call (five before: each pump and evaluation read it)

    aws("s3").put_object(
        Bucket=outputs["data_bucket"], Key="incoming/b-2/bookings.csv", Body=b"hotel_id\n1\n"
    )
    takes.clear()
    ran = executor.settle()
    assert _runs(ran) == [("infer", "s3")]
    assert len(takes) == 2  # at the start, and after infer's run


def _calls(executor, *services) -> list[str]:
    """The API calls the executor's own clients of `services` make from now on."""
    made: list[str] = []
    for service in services:
        executor.client(service).meta.events.register(
            "before-call", lambda model, **_: made.append(model.name)
        )
    return made


def test_the_wiring_is_read_again_only_after_a_request_may_have_changed_it(
    stack, aws, executor, names
):
    outputs, _, _ = stack
    executor.advance(timedelta(hours=1))  # rules, targets and functions read once
    made = _calls(executor, "events", "lambda")
    assert _runs(executor.advance(timedelta(hours=1))) == [("infer", "schedule")]
    assert made == []

    aws("lambda").update_function_configuration(
        FunctionName=names["infer"], Description="changed by an operator"
    )
    aws("events").enable_rule(Name=outputs["inference_rule_name"])  # a write, however idle
    assert ("infer", "schedule") in _runs(executor.advance(timedelta(hours=1)))
    assert {"ListRules", "ListTargetsByRule", "GetFunction"} <= set(made)
    made.clear()
    assert ("infer", "schedule") in _runs(executor.advance(timedelta(hours=1)))
    assert made == []


def test_labels_and_published_batches_reach_monitor(stack, aws, executor):
    outputs, _, _ = stack
    s3 = aws("s3")
    s3.put_object(Bucket=outputs["data_bucket"], Key="labels/b-2.csv", Body=b"hotel_id,status\n")
    s3.put_object(
        Bucket=outputs["predictions_bucket"], Key="predictions/b-2/predictions.csv", Body=b"p\n"
    )
    s3.put_object(Bucket=outputs["predictions_bucket"], Key="predictions/b-2/_SUCCESS", Body=b"{}")
    ran = executor.pump()
    assert _runs(ran) == [("monitor", "s3"), ("monitor", "s3")]
    assert [r.event["Records"][0]["s3"]["object"]["key"] for r in ran] == [
        "labels/b-2.csv",
        "predictions/b-2/_SUCCESS",
    ]


def test_rewriting_the_same_key_is_a_new_event(stack, aws, executor):
    outputs, _, _ = stack
    for body in (b"v1", b"v2"):
        aws("s3").put_object(
            Bucket=outputs["data_bucket"], Key="incoming/b-3/hotels.csv", Body=body
        )
    assert _runs(executor.pump()) == [("infer", "s3"), ("infer", "s3")]


# --- schedules ------------------------------------------------------------------------------------


def test_an_enabled_rule_fires_when_due_with_a_scheduled_event(stack, executor):
    outputs, _, _ = stack
    ran = _without_sweep(executor.advance(timedelta(hours=2, minutes=30)))
    assert _runs(ran) == [("infer", "schedule"), ("infer", "schedule")]
    assert [i.virtual_time for i in ran] == [START + timedelta(hours=1), START + timedelta(hours=2)]
    event = ran[0].event
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2026-01-05T01:00:00Z"
    assert event["resources"][0].endswith(f"rule/{outputs['inference_rule_name']}")
    assert executor.clock == START + timedelta(hours=2, minutes=30)
    # the daily training at 03:00 and the 6-hourly monitoring sweep come later
    ran = executor.advance(timedelta(hours=4))
    assert ("train", "schedule") in _runs(ran) and ("monitor", "schedule") in _runs(ran)
    assert next(i for i in ran if i.function == "mlcycle-train").virtual_time == START + timedelta(
        hours=3
    )


def test_a_disabled_rule_never_fires(stack, aws, executor):
    outputs, _, _ = stack
    events = aws("events")
    events.disable_rule(Name=outputs["inference_rule_name"])
    try:
        ran = executor.advance(timedelta(hours=5))
        assert ("infer", "schedule") not in _runs(ran)
        assert ("train", "schedule") in _runs(ran)  # the other rules still fire
    finally:
        events.enable_rule(Name=outputs["inference_rule_name"])
    assert ("infer", "schedule") in _runs(executor.advance(timedelta(hours=1)))


def test_a_rule_the_breaker_disables_stops_firing_at_once(stack, aws, executor, names):
    outputs, _, _ = stack
    try:
        executor.invoke(
            names["breaker"], {"placeholder": {"disable_rule": outputs["inference_rule_name"]}}
        )
        assert (
            aws("events").describe_rule(Name=outputs["inference_rule_name"])["State"] == "DISABLED"
        )
        assert ("infer", "schedule") not in _runs(executor.advance(timedelta(hours=2)))
        executor.invoke(
            names["breaker"], {"placeholder": {"enable_rule": outputs["inference_rule_name"]}}
        )
        assert ("infer", "schedule") in _runs(executor.advance(timedelta(hours=1)))
    finally:
        aws("events").enable_rule(Name=outputs["inference_rule_name"])


# --- asynchronous invokes made by handlers --------------------------------------------------------


def test_an_async_invoke_by_a_handler_runs_the_target(executor, names):
    executor.invoke(
        names["breaker"],
        {
            "placeholder": {
                "invoke_async": {
                    names["train"]: {"actor": "breaker", "recovery": True},
                    names["infer"]: {"action": "score_held", "probation": True},
                }
            }
        },
    )
    ran = executor.pump()
    assert _runs(ran) == [("train", "async"), ("infer", "async")]
    assert [i.event for i in ran] == [
        {"actor": "breaker", "recovery": True},
        {"action": "score_held", "probation": True},
    ]


def test_a_failing_async_event_is_retried_then_sent_to_the_dead_letter_queue(
    stack, aws, executor, names
):
    outputs, _, _ = stack
    executor.invoke(
        names["breaker"],
        {"placeholder": {"invoke_async": {names["monitor"]: {"placeholder": {"fail": "no"}}}}},
    )
    executor.pump()
    attempts = [i.attempt for i in executor.invocations if i.function == names["monitor"]]
    assert attempts == [1, 2, 3]  # MaximumRetryAttempts = 2 in the deployed event invoke config
    messages = aws("sqs").receive_message(QueueUrl=outputs["dead_letter_queue_urls"]["monitor"])[
        "Messages"
    ]
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"placeholder": {"fail": "no"}}
    assert record["responsePayload"]["errorMessage"] == "no"


# --- synchronous invokes made by handlers ---------------------------------------------------------


def test_a_synchronous_invoke_by_a_handler_gets_the_targets_answer(executor, names):
    gate_trip = {"action": "gate_trip", "batch_id": "b-9"}
    result = executor.invoke(
        names["infer"], {"placeholder": {"invoke_sync": {names["breaker"]: gate_trip}}}
    )
    called, caller = executor.invocations[-2:]
    assert _runs([called, caller]) == [("breaker", "sync"), ("infer", "direct")]
    assert called.event == gate_trip
    answer = result["answers"][names["breaker"]]
    assert answer == {"payload": called.result, "function_error": None}
    assert answer["payload"]["function"] == "breaker"
    assert executor.pump() == []  # answered once, not replayed as an asynchronous invoke


def test_a_failing_synchronous_target_answers_with_its_error(executor, names):
    orders = {"invoke_sync": {names["breaker"]: {"placeholder": {"fail": "breaker down"}}}}
    answer = executor.invoke(names["infer"], {"placeholder": orders})["answers"][names["breaker"]]
    assert answer["function_error"] == "Unhandled"
    assert answer["payload"]["errorType"] == "RuntimeError"
    assert answer["payload"]["errorMessage"] == "breaker down"
    assert executor.invocations[-2].attempt == 1  # a synchronous caller gets no retries


def test_a_function_can_invoke_itself_synchronously_in_a_second_sandbox(executor, names):
    inner = {"placeholder": {"invoke_sync": {names["breaker"]: {"depth": 2}}}}
    result = executor.invoke(
        names["breaker"], {"placeholder": {"invoke_sync": {names["breaker"]: inner}}}
    )
    assert _runs(executor.invocations[-3:]) == [
        ("breaker", "sync"),
        ("breaker", "sync"),
        ("breaker", "direct"),
    ]
    answer = result["answers"][names["breaker"]]["payload"]
    assert answer["answers"][names["breaker"]]["payload"]["function"] == "breaker"


def test_a_synchronous_invoke_of_an_unknown_function_gets_lambdas_error(executor, names):
    orders = {"invoke_sync": {"no-such-function": {}}}
    with pytest.raises(InvocationError, match="ResourceNotFoundException"):
        executor.invoke(names["infer"], {"placeholder": orders})


# --- alarms --------------------------------------------------------------------------------------


def _put(executor, names, outputs, value, **dimensions):
    """RuleVerdict = value, put by a deployed function with ModelName and these dimensions."""
    executor.invoke(
        names["monitor"],
        {
            "placeholder": {
                "put_metric": {
                    "name": "RuleVerdict",
                    "value": value,
                    "namespace": outputs["metric_namespace"],
                    "model": "booking_status",
                    "dimensions": dimensions,
                }
            }
        },
    )


def _state(cloudwatch, alarm_name: str) -> str:
    return cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]["StateValue"]


def test_a_trip_verdict_alarms_and_the_breaker_gets_the_sns_event(stack, aws, executor, names):
    outputs, _, _ = stack
    cloudwatch = aws("cloudwatch")
    trip = outputs["trip_alarm_names"]["JoinCoverage"]
    warning = outputs["warning_alarm_names"]["JoinCoverage"]
    _put(executor, names, outputs, 0, Rule="JoinCoverage")  # ok: nothing happens
    # Trip level, but not with the alarm's dimensions: another rule, or one more dimension.
    _put(executor, names, outputs, 2, Rule="NullRate", ModelVersion="v0001")
    _put(executor, names, outputs, 2, Rule="JoinCoverage", ModelVersion="v0001")
    assert executor.evaluate_alarms() == []

    _put(executor, names, outputs, 2, Rule="JoinCoverage")
    ran = executor.evaluate_alarms()
    assert _runs(ran) == [("breaker", "sns")]  # the warnings topic has no function subscribed
    assert (_state(cloudwatch, trip), _state(cloudwatch, warning)) == ("ALARM", "ALARM")
    assert _state(cloudwatch, outputs["trip_alarm_names"]["NullRate"]) == "OK"
    record = ran[0].event["Records"][0]
    assert (
        record["EventSource"] == "aws:sns"
        and record["Sns"]["TopicArn"] == outputs["alarm_topic_arn"]
    )
    message = json.loads(record["Sns"]["Message"])
    assert (message["AlarmName"], message["OldStateValue"], message["NewStateValue"]) == (
        trip,
        "OK",
        "ALARM",
    )
    assert message["Trigger"]["MetricName"] == "RuleVerdict"
    assert {d["name"]: d["value"] for d in message["Trigger"]["Dimensions"]} == {
        "ModelName": "booking_status",
        "Rule": "JoinCoverage",
    }
    assert message["Trigger"]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert message["Trigger"]["Threshold"] == 2
    assert "2" in message["NewStateReason"]

    # next period without data: missing is not breaching, back to OK, and the breaker hears it
    ran = executor.evaluate_alarms()
    assert _runs(ran) == [("breaker", "sns")]
    assert json.loads(ran[0].event["Records"][0]["Sns"]["Message"])["NewStateValue"] == "OK"
    assert (_state(cloudwatch, trip), _state(cloudwatch, warning)) == ("OK", "OK")


def test_a_warning_verdict_reaches_no_function(stack, aws, executor, names):
    outputs, _, _ = stack
    _put(executor, names, outputs, 1, Rule="FeatureDrift")
    assert executor.evaluate_alarms() == []
    warning = outputs["warning_alarm_names"]["FeatureDrift"]
    assert _state(aws("cloudwatch"), warning) == "ALARM"
    assert "FeatureDrift" not in outputs["trip_alarm_names"]
    executor.evaluate_alarms()
    assert _state(aws("cloudwatch"), warning) == "OK"


def test_advance_evaluates_alarms_after_each_step(stack, aws, names):
    outputs, url, packages = stack
    executor = Executor(url, packages, START)  # auto_alarms on
    _put(executor, names, outputs, 2, Rule="NullRate")
    ran = executor.advance(
        timedelta(hours=1)
    )  # the hourly rescan fires, then the alarms are evaluated
    assert _runs(ran) == [("infer", "schedule"), ("breaker", "sns")]
    ran = executor.advance(timedelta(hours=1))
    assert _runs(ran) == [("infer", "schedule"), ("breaker", "sns")]  # and back to OK


# --- pure pieces: schedules and the alarm rule ----------------------------------------------------


@pytest.mark.parametrize(
    "expression, after, expected",
    [
        ("cron(0 3 * * ? *)", "2026-01-05T00:30", "2026-01-05T03:00"),
        ("cron(0 3 * * ? *)", "2026-01-05T03:00", "2026-01-06T03:00"),
        ("cron(15 10 ? * MON-FRI *)", "2026-01-09T11:00", "2026-01-12T10:15"),  # Friday -> Monday
        ("cron(0/20 8-9 * * ? *)", "2026-01-05T08:45", "2026-01-05T09:00"),
        ("cron(0 0 1 JAN,JUL ? *)", "2026-01-05T00:00", "2026-07-01T00:00"),
        ("rate(1 hour)", "2026-01-05T00:00", "2026-01-05T01:00"),
        ("rate(6 hours)", "2026-01-05T07:00", "2026-01-05T12:00"),
        ("rate(2 days)", "2026-01-05T00:00", "2026-01-07T00:00"),
    ],
)
def test_schedule_expressions(expression, after, expected):
    at = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert parse_schedule(expression).next_after(at, START) == datetime.fromisoformat(
        expected
    ).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 3 L * ? *)",
        "cron(0 3 ? * 2#1 *)",
        "cron(0 3 * * *)",
        "cron(0 3 1 * MON *)",
        "rate(0 hours)",
        "every hour",
    ],
)
def test_unsupported_schedules_are_refused(expression):
    with pytest.raises(ScheduleError):
        parse_schedule(expression)


def _alarm(**kw):
    return {
        "AlarmName": "a",
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0.5,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "TreatMissingData": "notBreaching",
        "StateValue": "OK",
        **kw,
    }


def _states(alarm: dict, values: list) -> list[str]:
    evaluator, states = AlarmEvaluator(cloudwatch=None), []
    for value in values:
        change = evaluator._update(alarm, value)
        if change:
            alarm = {**alarm, "StateValue": change.new_state}
        states.append(alarm["StateValue"])
    return states


def test_m_out_of_n_datapoints_and_missing_data():
    assert _states(_alarm(), [0.4, 0.6, None, 0.5]) == ["OK", "ALARM", "OK", "OK"]
    two_of_three = _alarm(EvaluationPeriods=3, DatapointsToAlarm=2)
    assert _states(two_of_three, [0.9, None, 0.9, 0.9, 0.1, 0.1]) == [
        "OK",
        "OK",
        "ALARM",
        "ALARM",
        "ALARM",
        "OK",
    ]
    assert _states(_alarm(TreatMissingData="breaching"), [None]) == ["ALARM"]
    assert _states(_alarm(TreatMissingData="missing", StateValue="OK"), [None]) == [
        "INSUFFICIENT_DATA"
    ]
    assert _states(_alarm(TreatMissingData="ignore", StateValue="ALARM"), [None]) == ["ALARM"]
    assert _states(_alarm(ComparisonOperator="LessThanOrEqualToThreshold"), [0.5, 0.51]) == [
        "ALARM",
        "OK",
    ]


def test_invocation_log_keeps_every_run_in_order(executor, names):
    executor.invoke(names["train"], {})
    executor.invoke(names["infer"], {})
    assert _runs(executor.invocations) == [("train", "direct"), ("infer", "direct")]
    assert all(i.duration_s > 0 and i.ok for i in executor.invocations)
    assert isinstance(executor._pending, deque) and not executor._pending


# --- the live local cloud: the public port and the wall clock (local_aws/live.py) -----------------


class FakeWall:
    """Monotonic seconds that move only when the test says."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_relative_packages_path_runs_the_deployed_code(stack, names, monkeypatch):
    _, url, packages = stack
    monkeypatch.chdir(packages.parent)
    executor = Executor(url, Path("packages"), START, auto_alarms=False)
    try:
        assert executor.invoke(names["breaker"], {})["function"] == "breaker"
    finally:
        executor.close()


@pytest.fixture
def public_port(stack, executor):
    """The public port of `make up` on a free port, in front of this module's moto."""
    _, url, _ = stack
    lock = threading.RLock()
    port = free_port()
    stop = serve_in_thread(InvokeProxy(("127.0.0.1", port), url, LambdaFront(executor, lock)))
    yield f"http://127.0.0.1:{port}", lock
    stop()


def test_the_public_port_answers_invoke_as_lambda_does(public_port, executor, names, stack):
    port_url, lock = public_port
    outputs, _, _ = stack
    lam = client("lambda", port_url)
    answer = lam.invoke(FunctionName=names["breaker"], Payload=b'{"hello": 1}', LogType="Tail")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read())["function"] == "breaker"
    assert base64.b64decode(answer["LogResult"]).decode().startswith("START RequestId: ")

    failed = lam.invoke(
        FunctionName=names["infer"], Payload=json.dumps({"placeholder": {"fail": "boom"}})
    )
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorMessage"] == "boom"
    with pytest.raises(lam.exceptions.InvalidRequestContentException, match="json"):
        lam.invoke(FunctionName=names["breaker"], Payload=b"{not json")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="mlcycle-nothing", Payload=b"{}")

    # Event: accepted at once, run by the loop; S3 through the port reaches moto and notifies.
    queued = lam.invoke(FunctionName=names["monitor"], InvocationType="Event", Payload=b"{}")
    assert queued["StatusCode"] == 202
    client("s3", port_url).put_object(
        Bucket=outputs["data_bucket"], Key="incoming/live-1/bookings.csv", Body=b"x"
    )
    ran = WallClock(executor, lock, wall=FakeWall()).step()
    assert ("monitor", "async") in _runs(ran) and ("infer", "s3") in _runs(ran)
    assert executor.invocations == []  # handed to the caller: a server keeps none


def test_the_wall_clock_fires_schedules_times_the_speed_and_skips_disabled_rules(
    stack, aws, executor
):
    outputs, _, _ = stack
    wall = FakeWall()
    clock = WallClock(executor, threading.RLock(), speed=60, wall=wall)
    wall.now += 59  # 59 virtual minutes: the hourly rule is not due yet
    assert ("infer", "schedule") not in _runs(clock.step())
    wall.now += 2
    assert _runs(clock.step(), "schedule") == [("infer", "schedule")]
    aws("events").disable_rule(Name=outputs["inference_rule_name"])
    try:
        wall.now += 61
        assert ("infer", "schedule") not in _runs(clock.step())
    finally:
        aws("events").enable_rule(Name=outputs["inference_rule_name"])


def test_the_wall_clock_closes_an_alarm_period_after_its_period_times_the_speed(
    stack, aws, executor, names
):
    outputs, _, _ = stack
    trip = outputs["trip_alarm_names"]["JoinCoverage"]
    period = aws("cloudwatch").describe_alarms(AlarmNames=[trip])["MetricAlarms"][0]["Period"]
    wall = FakeWall()
    clock = WallClock(executor, threading.RLock(), speed=60, wall=wall)
    clock.step()  # the alarms' first periods start
    _put(executor, names, outputs, 2, Rule="JoinCoverage")
    wall.now += period / 60 - 1
    assert ("breaker", "sns") not in _runs(clock.step())
    assert _state(aws("cloudwatch"), trip) != "ALARM"
    wall.now += 1.5
    assert ("breaker", "sns") in _runs(clock.step())
    assert _state(aws("cloudwatch"), trip) == "ALARM"
    wall.now += period / 60  # a period without data: back to OK
    clock.step()
    assert _state(aws("cloudwatch"), trip) == "OK"


def test_output_reaches_the_tail_while_the_handler_still_writes(tmp_path):
    log_path, got = tmp_path / "output.log", []
    tail = OutputTail(log_path, got.extend)
    with open(log_path, "w") as out:
        out.write("first\nsecond\npart")
        out.flush()
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert got == ["first", "second"]  # the unfinished line waits
        out.write("ial\n")
    tail.close()
    assert got == ["first", "second", "partial"]


def test_a_streamed_run_leaves_lambdas_log_lines_in_its_group(stack, aws, names):
    _, url, packages = stack
    executor = Executor(url, packages, START, auto_alarms=False, stream_logs=True)
    try:
        with pytest.raises(InvocationError):
            executor.invoke(names["train"], {"placeholder": {"fail": "streamed"}})
    finally:
        executor.close()
    run = executor.invocations[-1]
    events = aws("logs").get_log_events(
        logGroupName=f"/aws/lambda/{names['train']}", logStreamName=run.log_stream
    )["events"]
    messages = [e["message"] for e in events]
    assert messages[0] == f"START RequestId: {run.request_id} Version: $LATEST"
    assert "[ERROR] RuntimeError: streamed" in messages
    assert messages[-2:][0] == f"END RequestId: {run.request_id}"
    assert messages[-1].startswith(f"REPORT RequestId: {run.request_id}\tDuration: ")


def test_runs_in_one_warm_sandbox_share_its_log_stream(stack, aws, executor, names):
    first, second = (executor.run(names["train"], {}) for _ in range(2))
    assert first.ok and second.ok
    assert first.log_stream == second.log_stream
    assert "/[$LATEST]" in first.log_stream  # Lambda's stream name: date/[version]id
    streams = aws("logs").describe_log_streams(
        logGroupName=f"/aws/lambda/{names['train']}", logStreamNamePrefix=first.log_stream
    )["logStreams"]
    assert [s["logStreamName"] for s in streams] == [first.log_stream]
    messages = [
        e["message"]
        for e in aws("logs").get_log_events(
            logGroupName=f"/aws/lambda/{names['train']}", logStreamName=first.log_stream
        )["events"]
    ]
    starts = [m for m in messages if m.startswith("START RequestId: ")]
    assert starts[-2:] == [
        f"START RequestId: {run.request_id} Version: $LATEST" for run in (first, second)
    ]


def test_a_prestarted_sandbox_has_imported_its_handler_before_its_first_run(aws, executor, names):
    """Started from the function's configuration as list_functions gives it (the demo's way,
    while Terraform still applies), it serves the function's first runs."""
    [config] = [
        c
        for c in aws("lambda").list_functions()["Functions"]
        if c["FunctionName"] == names["monitor"]
    ]
    executor.sandboxes.prestart(config)
    executor.sandboxes.prestart(config)  # one is idle already: no second one
    time.sleep(3)  # the import, well done by now
    sent = time.time()
    first, second = (executor.run(names["monitor"], {}) for _ in range(2))
    assert first.ok and second.ok
    assert first.result["imported_at"] < sent  # not imported on the way to the run
    assert first.log_stream == second.log_stream  # the prestarted sandbox served both
    assert [len(idle) for idle in executor.sandboxes.pool.sandboxes.values()] == [1]
    # The init phase's output leads the first run's output only.
    assert first.logs.startswith("placeholder monitor imported\n")
    assert "imported" not in second.logs


def test_what_an_import_says_reaches_a_cold_first_run_once(executor, names):
    first, second = (executor.run(names["breaker"], {}) for _ in range(2))
    assert first.logs.count("placeholder breaker imported") == 1
    assert "imported" not in second.logs
