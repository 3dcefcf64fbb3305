"""The live local cloud: moto_server behind a public port, and the executor on the wall clock.

    python -m local_aws.live serve [--host 127.0.0.1] [--port 4566] [--speed 1]

(`make up` starts it in the background, `make down` stops it: local_aws/control.py.)
moto_server, on a private port, stays the AWS API. The public port (invoke_proxy.py)
answers Lambda's Invoke API by running the deployed code and passes everything else to moto.
A loop (`WallClock`) does, about twice a second, what the tests and the demo do with the
same Executor on a virtual clock: deliver S3 notifications and the functions' asynchronous
invokes, fire the ENABLED schedule rules when due, and close each alarm's period when its
`Period` has passed. `--speed N` runs the schedules and the alarm periods N times faster
than the wall clock (a demo's day in minutes); metrics stay stamped with the wall clock.

Everything lives in memory: stopping the server loses the stack and its data.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deployment.emulator_env import user_region
from local_aws.emulator import running_emulator
from local_aws.executor import Executor
from local_aws.invoke_proxy import InvokeProxy, LambdaFront, serve_in_thread
from local_aws.runtime import Invocation

log = logging.getLogger("local_aws.live")
REPO = Path(__file__).resolve().parent.parent
TICK_S = 0.5


class WallClock:
    """Runs an Executor on wall-clock time (times `speed`). Every executor call holds `lock`:
    the public port's invokes share the executor with this loop."""

    def __init__(
        self,
        executor: Executor,
        lock: threading.RLock,
        speed: float = 1.0,
        wall: Callable[[], float] = time.monotonic,
    ):
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.executor, self.lock, self.speed, self.wall = executor, lock, speed, wall
        self.started = wall()
        self.virtual_start = executor.clock
        self.alarm_due: dict[str, float] = {}  # alarm name -> monotonic time its period ends

    def virtual_now(self) -> datetime:
        return self.virtual_start + timedelta(seconds=(self.wall() - self.started) * self.speed)

    def due_alarms(self) -> set[str]:
        """The alarms whose Period (divided by the speed) has passed since their last period
        closed; an alarm seen for the first time starts its first period now."""
        now = self.wall()
        paginator = self.executor.client("cloudwatch").get_paginator("describe_alarms")
        alarms = [
            a
            for page in paginator.paginate(AlarmTypes=["MetricAlarm"])
            for a in page.get("MetricAlarms", [])
        ]
        due = set()
        for alarm in alarms:
            period_s = int(alarm.get("Period") or 60) / self.speed
            ends = self.alarm_due.setdefault(alarm["AlarmName"], now + period_s)
            if ends <= now:
                due.add(alarm["AlarmName"])
                self.alarm_due[alarm["AlarmName"]] = max(ends + period_s, now)
        return due

    def step(self) -> list[Invocation]:
        """Deliver what is pending, fire the rules due by now, close the alarm periods due;
        returns every run since the last step (the public port's too)."""
        with self.lock:
            ex = self.executor
            ex.pump()
            ex.advance(max(timedelta(0), self.virtual_now() - ex.clock))
            due = self.due_alarms()
            if due:
                ex.evaluate_alarms(names=due)
            ran = list(ex.invocations)
            ex.invocations.clear()  # a server runs for days: the function logs keep the runs
        return ran


def serve(host: str, port: int, speed: float, packages_dir: Path, work_dir: Path) -> None:
    """Run until SIGTERM or SIGINT; then stop the port, the sandboxes and moto_server."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    work_dir.mkdir(parents=True, exist_ok=True)
    recording = work_dir / "recording.jsonl"
    with running_emulator(
        log_path=work_dir / "moto_server.log", recording_file=recording
    ) as moto_url:
        executor = Executor(
            moto_url,
            packages_dir,
            datetime.now(UTC),
            region=user_region(),
            auto_alarms=False,
            coalesce_schedules=True,
            recording_file=recording,
            stream_logs=True,
        )
        lock = threading.RLock()
        stop_proxy = serve_in_thread(
            InvokeProxy((host, port), moto_url, LambdaFront(executor, lock))
        )
        clock = WallClock(executor, lock, speed)
        log.info(
            "local AWS on http://%s:%d (moto_server at %s, region %s, speed %g)",
            host,
            port,
            moto_url,
            executor.region,
            speed,
        )
        try:
            while not stop.wait(TICK_S):
                try:
                    ran = clock.step()
                except Exception:  # one bad delivery must not stop the cloud
                    log.exception("background step failed")
                    continue
                for run in ran:
                    outcome = "ok" if run.ok else (run.error or {}).get("errorType")
                    log.info(
                        "%s (%s) %s in %.1fs", run.function, run.source, outcome, run.duration_s
                    )
        finally:
            stop_proxy()
            executor.close()
    log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws.live", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument(
        "--speed", type=float, default=1.0, help="schedules and alarm periods N times faster"
    )
    parser.add_argument("--packages-dir", type=Path, default=REPO / "build" / "packages")
    parser.add_argument("--work-dir", type=Path, default=REPO / "build" / "local-aws")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    serve(args.host, args.port, args.speed, args.packages_dir, args.work_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
