"""Tiny stand-in packages in the layout of `python -m layers.build` (docs/CONTRACTS.md).

They let the stack and the executor be tested without the real (large, slow to build)
packages. Every handler records the event it got into the monitoring bucket under
`placeholder/<fn>/`, proves the layer is on its path (or bundled beside it), and can be
told by the event to act like the real breaker does: invoke other functions
asynchronously, switch a rule, put a metric, or fail.

    {"placeholder": {"invoke_async": {"<function name>": {...payload...}},
                     "disable_rule": "<rule>", "enable_rule": "<rule>",
                     "put_metric": {"name": "PredictionDrift", "value": 0.9, "namespace": "...", "model": "..."},
                     "fail": "message", "probe_import": "<module>"}}

`probe_import` reports whether a module can be imported: the packages, not the test
runner's virtualenv, must define what a handler can import.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

FUNCTIONS = ("train", "infer", "monitor", "breaker")
DEPENDENCY_MODULE = "placeholder_dependency"

HANDLER = '''\
"""Placeholder {fn} handler (deployment/local/placeholders.py)."""
import json
import os
import uuid

import boto3
import {dep}


def handler(event, context):
    orders = (event or {{}}).get("placeholder", {{}}) if isinstance(event, dict) else {{}}
    if orders.get("fail"):
        raise RuntimeError(orders["fail"])
    record = {{
        "function": "{fn}",
        "function_name": getattr(context, "function_name", None),
        "dependency": {dep}.VERSION,
        "environment": {{k: os.environ.get(k) for k in (
            "DATA_BUCKET", "MODEL_BUCKET", "PREDICTIONS_BUCKET", "MONITORING_BUCKET",
            "INFERENCE_RULE_NAME", "TRAIN_FUNCTION_NAME", "INFER_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_NAME")}},
        "event": event,
    }}
    if orders.get("probe_import"):
        try:
            __import__(orders["probe_import"])
            record["probe_import"] = True
        except ImportError:
            record["probe_import"] = False
    key = "placeholder/{fn}/" + uuid.uuid4().hex + ".json"
    boto3.client("s3").put_object(Bucket=os.environ["MONITORING_BUCKET"], Key=key, Body=json.dumps(record).encode())
    for name, payload in (orders.get("invoke_async") or {{}}).items():
        boto3.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload).encode())
    if orders.get("disable_rule"):
        boto3.client("events").disable_rule(Name=orders["disable_rule"])
    if orders.get("enable_rule"):
        boto3.client("events").enable_rule(Name=orders["enable_rule"])
    metric = orders.get("put_metric")
    if metric:
        boto3.client("cloudwatch").put_metric_data(Namespace=metric["namespace"], MetricData=[{{
            "MetricName": metric["name"], "Value": float(metric["value"]),
            "Dimensions": [{{"Name": "ModelName", "Value": metric["model"]}}]}}])
    return {{"function": "{fn}", "recorded": key, "probe_import": record.get("probe_import")}}
'''


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # reproducible bytes
            info.external_attr = 0o644 << 16
            zf.writestr(info, text)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"path": str(path), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def write_placeholder_packages(out_dir: Path, version: str = "1") -> Path:
    """Write layer.zip, functions/, bundled/ and manifest.json into out_dir; return out_dir."""
    out_dir = Path(out_dir)
    dependency = {f"{DEPENDENCY_MODULE}.py": f"VERSION = {version!r}\n"}
    manifest: dict = {"layer": _write(out_dir / "layer.zip", _zip({f"python/{k}": v for k, v in dependency.items()})),
                      "functions": {}, "bundled": {}}
    for fn in FUNCTIONS:
        code = {"handlers/__init__.py": "", f"handlers/{fn}.py": HANDLER.format(fn=fn, dep=DEPENDENCY_MODULE)}
        manifest["functions"][fn] = _write(out_dir / "functions" / f"{fn}.zip", _zip(code))
        manifest["bundled"][fn] = _write(out_dir / "bundled" / f"{fn}.zip", _zip({**code, **dependency}))
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out_dir
