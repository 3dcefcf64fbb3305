"""The local executor: what moto cannot do, done from the wiring Terraform deployed.

moto_server stores the stack (functions, notifications, rules, subscriptions, alarms) but
runs no Lambda code and evaluates no alarm. The executor reads that wiring back with boto3
and runs the deployed handler code (matched by CodeSha256 to the built packages) in a
subprocess, as Lambda would:

    ex = Executor(endpoint_url, packages_dir, start_time)
    ex.invoke("mlcycle-train", {})        # synchronous, returns the handler's result
    s3.put_object(... "incoming/b1/bookings.csv" ...)
    ex.pump()                             # S3 notifications + async invokes, until quiet
    ex.advance(timedelta(hours=6))        # ENABLED schedule rules fire when due
    ex.evaluate_alarms()                  # alarm transitions -> SNS -> subscribed functions
    ex.invocations                        # every run, in the order they ended

It never calls project code directly: only the handlers Terraform deployed, with their
deployed environment. See moto_recorder.py for how handlers' async invokes are picked up,
sandbox_worker.py for their synchronous invokes (the target runs at once, its answer is
returned to the caller), and alarms.py for how alarms are evaluated on the virtual clock.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
from botocore.config import Config

from local_aws import lambda_events
from local_aws.alarms import AlarmEvaluator, reason_data
from local_aws.control_plane import ControlPlane
from local_aws.moto_recorder import Recorder
from local_aws.runtime import Invocation, run_handler
from local_aws.s3_notifications import NotificationScanner
from local_aws.sandboxes import CREDENTIALS, Sandboxes
from local_aws.schedules import parse_schedule

log = logging.getLogger("local_aws.executor")


class InvocationError(RuntimeError):
    """A synchronous invoke failed; the message carries the error and the function's output."""

    def __init__(self, invocation: Invocation):
        self.invocation = invocation
        error = invocation.error or {}
        tail = "\n".join(invocation.logs.splitlines()[-60:])
        super().__init__(
            f"{invocation.function}: {error.get('errorType')}: {error.get('errorMessage')}\n"
            f"--- function output (last lines) ---\n{tail}"
        )


def _start_line(invocation: Invocation) -> str:
    return f"START RequestId: {invocation.request_id} Version: $LATEST"


def _end_lines(invocation: Invocation) -> list[str]:
    error = invocation.error
    return [
        *([f"[ERROR] {error.get('errorType')}: {error.get('errorMessage')}"] if error else []),
        f"END RequestId: {invocation.request_id}",
        f"REPORT RequestId: {invocation.request_id}\t"
        f"Duration: {invocation.duration_s * 1000:.2f} ms",
    ]


def log_lines(invocation: Invocation) -> list[str]:
    """The run's output between Lambda's START, END and REPORT lines."""
    return [_start_line(invocation), *invocation.logs.splitlines(), *_end_lines(invocation)]


def _function_name(arn_or_name: str) -> str:
    return arn_or_name.split(":")[6] if arn_or_name.startswith("arn:") else arn_or_name


class Executor:
    def __init__(
        self,
        endpoint_url: str,
        packages_dir: Path,
        start_time: datetime | None = None,
        *,
        region: str = "us-east-1",
        cache_dir: Path | None = None,
        deliver_existing_objects: bool = False,
        auto_alarms: bool = True,
        enforce_timeouts: bool = True,
        python: str = sys.executable,
        warm: bool = True,
        sandboxes: Sandboxes | None = None,
        async_delays: dict[str, timedelta] | None = None,
        coalesce_schedules: bool = False,
        recording_file: Path | None = None,
        stream_logs: bool = False,
        quiet_between_calls: bool = False,
    ):
        self.endpoint_url = endpoint_url
        self.region = region
        self.clock = (start_time or datetime.now(UTC).replace(second=0, microsecond=0)).astimezone(
            UTC
        )
        self.auto_alarms = auto_alarms
        # A run's lines reach its log group as it writes them (`make logs` follows them),
        # not when it ends.
        self.stream_logs = stream_logs
        self.enforce_timeouts = enforce_timeouts
        self.invocations: list[Invocation] = []
        # A function's modelled run time on the virtual clock (a retrain takes hours in
        # production): its asynchronous invocations complete that much later.
        self.async_delays = async_delays or {}
        # Catch-up semantics for long clock jumps: a rule due several times within one
        # advance() fires once, like a scheduler resuming after a pause.
        self.coalesce_schedules = coalesce_schedules
        self._delayed: list[tuple[datetime, int, str, object, str]] = []
        self._log_streams: set[tuple[str, str]] = set()  # (group, stream) created
        # The S3 writes since the last look for new objects; None: look at every object.
        self._s3_writes: list[tuple[str, str]] | None = []
        session = boto3.session.Session(
            region_name=region, **{k.lower(): v for k, v in CREDENTIALS.items()}
        )
        config = Config(retries={"max_attempts": 2, "mode": "standard"})
        self._client = {
            s: session.client(s, endpoint_url=endpoint_url, config=config)
            for s in ("s3", "lambda", "events", "sns", "sqs", "cloudwatch", "logs")
        }
        # Built beforehand when the caller started sandboxes early (the demo, during its apply).
        self.sandboxes = sandboxes or Sandboxes(
            self._client["lambda"], endpoint_url, packages_dir, cache_dir, python, warm
        )
        self._pending: deque[tuple[str, object, str]] = deque()
        self.notifications = NotificationScanner(self._client["s3"])
        self._sequence = 0
        self._rule_anchor: dict[str, datetime] = {}
        self._metric_puts = 0  # PutMetricData calls seen since the last alarm evaluation
        self._last_metric_put: float | None = None  # when a drain last found one (epoch s)
        # Their bodies, while every one could be read (None: one could not, or an evaluation
        # of some alarms only took a period of its own): the next period for all alarms.
        self._metric_data: list[dict] | None = []
        # Whether the recording may hold work: only a handler run or a client outside the
        # executor adds any (async invokes, S3 writes, metric puts), so it is read at the start
        # of each public call and after each run, not again while only the executor itself
        # has made requests (most reads found nothing else).
        self._unread = True
        # The recorder file, read where moto runs beside us (moto_recorder.py);
        # quiet_between_calls: the executor's runs and its caller between calls are moto's only
        # clients (the demo), so no request is in flight at a drain.
        self.recorder = Recorder(endpoint_url, recording_file, concurrent=not quiet_between_calls)
        self.recorder.start()
        self.alarm_evaluator = AlarmEvaluator(self._client["cloudwatch"])
        self.control = ControlPlane(self._client, self.alarm_evaluator.metric_alarms)
        if deliver_existing_objects:
            self._s3_writes = None  # the first pump lists the buckets whatever the recorder saw
        else:
            self._new_object_events()  # what is already stored was delivered before we started
            self._pending.clear()
        self._schedule_rules()  # anchor rate() rules at start_time

    # --- running functions -------------------------------------------------------------

    def _run(
        self,
        function: str,
        event: object,
        source: str,
        attempt: int = 1,
        config: dict | None = None,
    ) -> Invocation:
        """`config`: the function's configuration, when the caller just read it."""
        lam = self._client["lambda"]
        if config is None:
            self._drain()  # a function Terraform just updated runs its new code
        # An unknown function: Lambda's own ResourceNotFoundException, from get_function.
        config = (
            config
            or self.control.function(function)
            or lam.get_function(FunctionName=function)["Configuration"]
        )
        invocation = Invocation(config["FunctionName"], source, event, self.clock, attempt=attempt)
        output = started = None
        if self.stream_logs:
            output = lambda lines: self._put_log_lines(invocation, lines)  # noqa: E731
            started = lambda run: self._put_log_lines(run, [_start_line(run)])  # noqa: E731
        run_handler(
            self.sandboxes.spec(config),
            self.sandboxes.pool,
            event,
            invocation,
            self._answer_sync_invoke,
            self.enforce_timeouts,
            output,
            started,
        )
        self._unread = True
        self.invocations.append(invocation)
        if self.stream_logs:
            self._put_log_lines(invocation, _end_lines(invocation))
        else:
            self._put_log_lines(invocation, log_lines(invocation))
        if not invocation.ok:
            log.warning(
                "%s (%s) failed: %s",
                invocation.function,
                source,
                invocation.error.get("errorMessage"),
            )
        return invocation

    def _put_log_lines(self, invocation: Invocation, lines: list[str]) -> None:
        """Best effort: lines into the function's log group, in its sandbox's stream, as Lambda
        would write them."""
        logs = self._client["logs"]
        group, stream = f"/aws/lambda/{invocation.function}", invocation.log_stream
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        try:
            if (group, stream) not in self._log_streams:
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
                self._log_streams.add((group, stream))
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[{"timestamp": now_ms, "message": line or " "} for line in lines],
            )
        except Exception as exc:  # a missing log group must not fail the run
            log.debug("could not write logs for %s: %s", invocation.function, exc)

    def invoke(self, function_name: str, event: object | None = None) -> object:
        """Synchronous invoke (RequestResponse): the handler's result, or InvocationError."""
        invocation = self.run(function_name, {} if event is None else event)
        if not invocation.ok:
            raise InvocationError(invocation)
        return invocation.result

    def run(self, function_name: str, event: object) -> Invocation:
        """One synchronous run, failed or not (what Lambda's Invoke API answers from)."""
        self._unread = True
        return self._run(function_name, event, "direct")

    def client(self, service: str):
        """The executor's boto3 client for `service` on the emulator."""
        return self._client[service]

    def knows(self, function_name: str) -> bool:
        """Whether the emulator has this function (by name or ARN)."""
        self._unread = True
        return self._configuration(_function_name(function_name)) is not None

    def _configuration(self, name: str) -> dict | None:
        self._drain()
        return self.control.function(name)

    def enqueue(self, function_name: str, event: object) -> None:
        """An asynchronous invoke (InvocationType Event): delivered by the next pump, with
        the deployed retries."""
        self._pending.append((function_name, event, "async"))

    def _answer_sync_invoke(self, request: dict) -> dict | None:
        """A handler's RequestResponse invoke (relayed by sandbox_worker.py): run the target now
        and answer as Lambda does, with its result, or with its error and X-Amz-Function-Error.
        None for a function moto does not know: its 404 is Lambda's answer too."""
        lam = self._client["lambda"]
        payload = request["payload"]
        try:
            invocation = self._run(
                _function_name(request["invoke"]),
                json.loads(payload) if payload.strip() else {},
                "sync",
            )
        except lam.exceptions.ResourceNotFoundException:
            return None
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if not invocation.ok:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return {
            "headers": headers,
            "body": json.dumps(invocation.result if invocation.ok else invocation.error),
        }

    def _deliver_async(self, function: str, event: object, source: str) -> Invocation:
        """An asynchronous delivery: retried as the event invoke config says, then to the DLQ."""
        name = _function_name(function)
        config = self._configuration(name)
        if config is None:
            log.warning("%s event for unknown function %s dropped", source, name)
            return Invocation(
                name,
                source,
                event,
                self.clock,
                error={
                    "errorType": "ResourceNotFoundException",
                    "errorMessage": f"Function not found: {name}",
                },
            )
        invoke_config = self.control.invoke_config(name)
        attempts = 1 + int(invoke_config.get("MaximumRetryAttempts", 2))
        for attempt in range(1, attempts + 1):
            invocation = self._run(name, event, source, attempt, config)
            if invocation.ok:
                return invocation
        self._dead_letter(config, event, invocation, invoke_config, attempts)
        return invocation

    def _dead_letter(
        self,
        config: dict,
        event: object,
        invocation: Invocation,
        invoke_config: dict,
        attempts: int,
    ) -> None:
        name = config["FunctionName"]
        record = lambda_events.async_failure_record(
            config["FunctionArn"], event, invocation.error or {}, attempts, self.clock
        )
        targets = [
            (invoke_config.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination"),
            (config.get("DeadLetterConfig") or {}).get("TargetArn"),
        ]
        for arn in filter(None, targets):
            service = arn.split(":")[2]
            if service == "sqs":
                url = self._client["sqs"].get_queue_url(QueueName=arn.split(":")[5])["QueueUrl"]
                self._client["sqs"].send_message(QueueUrl=url, MessageBody=record)
            elif service == "sns":
                self._client["sns"].publish(TopicArn=arn, Message=record)
            else:
                log.warning("failure destination %s of %s is not supported locally", arn, name)

    # --- S3 notifications and async invokes ----------------------------------------------

    def _new_object_events(self, written: list[tuple[str, str]] | None = None) -> None:
        """Queue an S3 event for every object version created since the last look, oldest first
        (`written`: where the S3 writes since then went; None: look everywhere)."""
        for function_arn, bucket, version, notification_id in self.notifications.new_objects(
            written
        ):
            self._sequence += 1
            event = lambda_events.s3_object_created(
                bucket,
                version["Key"],
                version["Size"],
                version["ETag"],
                version.get("VersionId"),
                self.region,
                notification_id,
                self.clock,
                self._sequence,
            )
            self._pending.append((function_arn, event, "s3"))

    def _queue_async(self, invokes) -> None:
        for item in invokes:
            delay = self.async_delays.get(_function_name(item.function))
            if delay:
                self._sequence += 1
                self._delayed.append(
                    (self.clock + delay, self._sequence, item.function, item.payload, "async")
                )
            else:
                self._pending.append((item.function, item.payload, "async"))

    def _release_due(self) -> None:
        due = sorted(d for d in self._delayed if d[0] <= self.clock)
        self._delayed = [d for d in self._delayed if d[0] > self.clock]
        self._pending.extend((function, payload, source) for _, _, function, payload, source in due)

    def _drain(self) -> None:
        if not self._unread:
            return
        self._unread = False
        drained = self.recorder.drain()
        self.control.forget(drained.reconfigured if self.recorder.available else None)
        self._metric_puts += drained.metric_puts
        if drained.metric_puts:
            self._last_metric_put = time.time()  # the puts were served before the drain
        if drained.undecoded_puts:
            self._metric_data = None
        elif self._metric_data is not None:
            self._metric_data += drained.metric_data
        if self._s3_writes is not None:
            self._s3_writes += drained.s3_writes
        self._queue_async(drained.invokes)

    def _collect(self) -> None:
        unread = self._unread
        self._drain()
        self._release_due()
        if not self.recorder.available:
            if unread:
                self._new_object_events()
        elif self._s3_writes is None or self._s3_writes:
            written, self._s3_writes = self._s3_writes, []
            self._new_object_events(written)

    def close(self) -> None:
        """Stop the warm sandboxes."""
        self.sandboxes.close()

    def pump(self) -> list[Invocation]:
        """Deliver S3 notifications and handlers' async invokes, one at a time, until none
        are left."""
        self._unread = True
        return self._pump()

    def _pump(self) -> list[Invocation]:
        done: list[Invocation] = []
        self._collect()
        while self._pending:
            function, event, source = self._pending.popleft()
            done.append(self._deliver_async(function, event, source))
            self._collect()
        return done

    # --- schedules ----------------------------------------------------------------------

    def _schedule_rules(self) -> list[dict]:
        """As of the last drain: a rule the breaker disabled in the run before is seen so."""
        self._drain()
        rules = self.control.schedule_rules()
        for rule in rules:
            self._rule_anchor.setdefault(rule["Arn"], self.clock)
        return rules

    def _next_fire(self, rule: dict) -> datetime | None:
        return parse_schedule(rule["ScheduleExpression"]).next_after(
            self.clock, self._rule_anchor[rule["Arn"]]
        )

    def _fire(self, rule: dict) -> None:
        for target in self.control.targets(rule["Name"]):
            if ":lambda:" not in target["Arn"]:
                log.warning(
                    "rule %s: target %s is not a Lambda function; skipped",
                    rule["Name"],
                    target["Arn"],
                )
                continue
            if target.get("InputPath") or target.get("InputTransformer"):
                log.warning(
                    "rule %s: InputPath/InputTransformer are not supported locally; "
                    "default event sent",
                    rule["Name"],
                )
            event = (
                json.loads(target["Input"])
                if target.get("Input")
                else lambda_events.scheduled(rule["Arn"], self.region, self.clock)
            )
            self._pending.append((target["Arn"], event, "schedule"))

    def advance(self, delta: timedelta) -> list[Invocation]:
        """Move the virtual clock; every ENABLED schedule rule fires at each due time on the way.

        Rule states are as of the last run: a rule a handler (the breaker) DISABLED on the
        way does not fire any more. After each firing the S3 events and
        async invokes it caused are delivered and (auto_alarms) the alarms evaluated.
        Asynchronous invocations of a function with a modelled run time (async_delays)
        are delivered when the clock reaches their completion time. With
        coalesce_schedules, a rule fires at most once per call.
        """
        self._unread = True
        target = self.clock + delta
        done: list[Invocation] = []
        fired: set[str] = set()
        while True:
            due = [
                (self._next_fire(r), r)
                for r in self._schedule_rules()
                if r.get("State") == "ENABLED" and r["Name"] not in fired
            ]
            due = [(t, r) for t, r in due if t is not None and t <= target]
            waking = [d[0] for d in self._delayed if d[0] <= target]
            if not due and not waking:
                break
            self.clock = min([t for t, _ in due] + waking)
            for _, rule in sorted(
                (d for d in due if d[0] == self.clock), key=lambda d: d[1]["Name"]
            ):
                self._fire(rule)
                if self.coalesce_schedules:
                    fired.add(rule["Name"])
            done += self._pump()
            if self.auto_alarms:
                done += self._evaluate_alarms()
        self.clock = target
        return done

    # --- alarms ---------------------------------------------------------------------------

    def evaluate_alarms(self, names: set[str] | None = None) -> list[Invocation]:
        """One evaluation period for every alarm, or for the alarms in `names` (see alarms.py);
        transitions are set in the emulator and delivered over SNS to the subscribed functions,
        whose effects are pumped. For all alarms at once, the period is made of the
        datapoints of the PutMetricData calls moto's recorder saw since the last period (none:
        missing data), or queried from moto when one of them could not be read. Alarms
        evaluated on their own periods always query: what arrived since the last evaluation
        says nothing about their windows."""
        self._unread = True
        return self._evaluate_alarms(names)

    def _evaluate_alarms(self, names: set[str] | None = None) -> list[Invocation]:
        self._drain()
        query = names is not None or self._metric_puts > 0 or not self.recorder.available
        self._metric_puts = 0
        cloudwatch, sns = self._client["cloudwatch"], self._client["sns"]
        done: list[Invocation] = []
        last_put = self._last_metric_put if self.recorder.available else None
        recorded = self._metric_data if names is None and self.recorder.available else None
        self._metric_data = [] if names is None else None
        changes = self.alarm_evaluator.evaluate(
            query=query,
            names=names,
            last_put=last_put,
            alarms=self.control.metric_alarms(),
            recorded=recorded,
        )
        if changes:
            self.control.forget({"monitoring"})  # the states set below
        for change in changes:
            alarm = change.alarm
            cloudwatch.set_alarm_state(
                AlarmName=alarm["AlarmName"],
                StateValue=change.new_state,
                StateReason=change.reason[:1023],
                StateReasonData=reason_data(change, self.clock),
            )
            actions = {
                "ALARM": alarm.get("AlarmActions", []),
                "OK": alarm.get("OKActions", []),
                "INSUFFICIENT_DATA": alarm.get("InsufficientDataActions", []),
            }[change.new_state]
            message = json.dumps(
                lambda_events.alarm_message(
                    alarm,
                    change.old_state,
                    change.new_state,
                    change.reason,
                    self.region,
                    self.clock,
                )
            )
            subject = lambda_events.alarm_subject(change.new_state, alarm["AlarmName"], self.region)
            for topic in (a for a in actions if a.split(":")[2] == "sns"):
                for page in sns.get_paginator("list_subscriptions_by_topic").paginate(
                    TopicArn=topic
                ):
                    for sub in page.get("Subscriptions", []):
                        if sub["Protocol"] == "lambda":
                            event = lambda_events.sns_notification(
                                topic, sub["SubscriptionArn"], subject, message, self.clock
                            )
                            self._pending.append((sub["Endpoint"], event, "sns"))
        done += self._pump()
        return done

    def settle(self, max_rounds: int = 20) -> list[Invocation]:
        """pump + evaluate_alarms until a round runs nothing: the system has come to rest."""
        self._unread = True
        done: list[Invocation] = []
        for _ in range(max_rounds):
            ran = self._pump() + self._evaluate_alarms()
            done += ran
            if not ran:
                return done
        raise RuntimeError(f"still busy after {max_rounds} rounds of pump + evaluate_alarms")
