"""Run as a script by local_aws.warm: a stand-in for a warm Lambda sandbox.

It imports the handler once and serves invocations, one JSON request per stdin line, and
says "done" on the control pipe after each. Its own folder is taken off the path first, so
it imports nothing of this project: the function sees only its packages and the runtime.

A synchronous `lambda.invoke` made by the handler is the one call moto cannot answer (it
has no runtime and replies with a FunctionError "error running docker"). botocore hands
that signed request to a before-send hook here, which asks the executor, over the control
pipe, to run the target function, and answers with what Lambda would send back. The
executor's answer comes on stdin, which is idle while the handler runs.
"""

import importlib
import io
import json
import os
import re
import sys
import threading
import time
import traceback
from urllib.parse import unquote, urlparse

sys.path.pop(0)

from botocore.awsrequest import AWSResponse  # noqa: E402 - the function's own path, set above
from botocore.handlers import BUILTIN_HANDLERS  # noqa: E402

control = os.fdopen(int(os.environ.pop("_CONTROL_FD")), "w")
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# One question on the control pipe at a time, whichever thread of the handler invokes.
asking = threading.Lock()


class Body(io.BytesIO):
    def stream(self, **_):
        yield self.read()


def sync_invoke(request, **_):
    """The executor's answer to a RequestResponse invoke; None sends any other request on."""
    match = INVOKE_PATH.match(urlparse(request.url).path)
    kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if not match or (kind.decode() if isinstance(kind, bytes) else kind) != "RequestResponse":
        return None
    payload = request.body.read() if hasattr(request.body, "read") else request.body or b""
    question = {"invoke": unquote(match["name"]), "payload": payload.decode()}
    with asking:
        control.write(json.dumps(question) + "\n")
        control.flush()
        answer = json.loads(sys.stdin.readline())
    if answer is None:  # a function the executor does not know: moto's 404 is the answer
        return None
    return AWSResponse(request.url, 200, answer["headers"], Body(answer["body"].encode()))


BUILTIN_HANDLERS.append(("before-send.lambda.Invoke", sync_invoke))


class Context:
    def __init__(self, request):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ["_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request["request_id"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline = time.time() + float(os.environ["_TIMEOUT_S"])

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))


def _load_handler():
    """(the handler, None), or (None, the error every invocation answers with)."""
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), function_name), None
    except Exception as exc:
        return None, {
            "errorType": "Runtime.ImportModuleError",
            "errorMessage": f"Unable to import module '{module_name}': {exc}",
            "stackTrace": traceback.format_exception(exc),
        }


# Lambda's init phase: the handler is imported as the sandbox starts, before its first
# invocation comes, so a sandbox started ahead of it (warm.WarmPool.prestart) is warm by then.
handler, import_error = _load_handler()
# What the import wrote is in the sandbox's own output (warm.Sandbox.startup_output). It leads
# the first invocation's output, as Lambda logs the init phase in the sandbox's first stream,
# and is taken out of the startup output, which the pool adds to a run that kills the sandbox.
init_output = os.dup(1)
for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    # This invocation's output, whatever holds the streams.
    log = os.open(request["log_path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    if init_output is not None:
        with open(init_output, "r+b") as said:  # closes the duplicate
            said.seek(0)
            os.write(1, said.read())
            said.truncate(0)
        init_output = None
    if import_error:
        out = import_error
    else:
        try:
            with open(request["event_path"]) as fh:
                event = json.load(fh)
            out = {"result": json.loads(json.dumps(handler(event, Context(request))))}
        except TypeError as exc:
            out = {
                "errorType": "Runtime.MarshalError",
                "errorMessage": f"Unable to marshal response: {exc}",
                "stackTrace": traceback.format_exception(exc),
            }
        except Exception as exc:
            out = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc),
            }
    sys.stdout.flush()
    sys.stderr.flush()
    with open(request["result_path"], "w") as fh:
        json.dump(out, fh)
    control.write("done\n")
    control.flush()
