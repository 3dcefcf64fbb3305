# Every name a user (or deploy.py, the tests, the demo) needs after `apply`.

output "region" {
  description = "Region of the stack."
  value       = var.region
}

output "endpoint_url" {
  description = "Endpoint the stack was applied to (empty: AWS)."
  value       = var.endpoint_url
}

output "packaging" {
  description = "\"layer\" or \"bundled\"."
  value       = var.packaging
}

output "buckets" {
  description = "Bucket names by purpose: data, models, predictions, monitoring, artifacts."
  value       = { for k, b in aws_s3_bucket.this : k => b.id }
}

output "data_bucket" {
  description = "training/, incoming/<batch_id>/<source>.csv (triggers inference), labels/, held/, quarantine/."
  value       = aws_s3_bucket.this["data"].id
}

output "model_bucket" {
  description = "Model store: models/<name>/<version>/, models/<name>/aliases.json."
  value       = aws_s3_bucket.this["models"].id
}

output "predictions_bucket" {
  description = "predictions/<batch_id>/predictions.csv + _SUCCESS, probation/<batch_id>/."
  value       = aws_s3_bucket.this["predictions"].id
}

output "monitoring_bucket" {
  description = "reports/<batch_id>.json, breaker/state.json, breaker/events.jsonl, limits/<model>/window.json."
  value       = aws_s3_bucket.this["monitoring"].id
}

output "artifacts_bucket" {
  description = "Deployed zips and the layer."
  value       = aws_s3_bucket.this["artifacts"].id
}

output "function_names" {
  description = "Function names by role: train, infer, monitor, breaker (`aws lambda invoke --function-name ...`)."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "function_arns" {
  description = "Function ARNs by role."
  value       = { for k, f in aws_lambda_function.this : k => f.arn }
}

output "layer_arn" {
  description = "Dependency layer version ARN (null with bundled packaging)."
  value       = local.use_layer ? aws_lambda_layer_version.dependencies[0].arn : null
}

output "rule_names" {
  description = "EventBridge rule names: training, inference, monitoring."
  value       = { for k, t in local.schedule_targets : k => t.rule.name }
}

output "inference_rule_name" {
  description = "The inference trigger the circuit breaker disables while OPEN."
  value       = aws_cloudwatch_event_rule.inference.name
}

output "alarm_topic_arn" {
  description = "SNS topic the trip and raw-metric alarms notify; the breaker function is subscribed. Never used for warnings or BreakerStateInvalid."
  value       = aws_sns_topic.alarms.arn
}

output "warnings_topic_arn" {
  description = "SNS topic the warning alarms notify (no breaker): subscribe whoever watches the model to it (or set warning_email_addresses)."
  value       = module.email_topic["warnings"].arn
}

output "operators_topic_arn" {
  description = "SNS topic for what needs a person (BreakerStateInvalid): subscribe the on-call to it (or set operator_email_addresses)."
  value       = module.email_topic["operators"].arn
}

output "breaker_state_invalid_alarm_name" {
  description = "Alarm on BreakerStateInvalid (-> operators topic only)."
  value       = aws_cloudwatch_metric_alarm.operators["BreakerStateInvalid"].alarm_name
}

output "model_signing_key_arn" {
  description = "Asymmetric KMS key (ECC_NIST_P256, ECDSA_SHA_256) that signs model versions: MODEL_SIGNING_KEY_ID of train, infer and monitor. Only the train role may sign."
  value       = aws_kms_key.model_signing.arn
}

output "model_signing_key_alias" {
  description = "Alias of the model signing key."
  value       = aws_kms_alias.model_signing.name
}

output "notifications_key_arn" {
  description = "Symmetric KMS key encrypting the alarm, warnings and operators topics."
  value       = aws_kms_key.notifications.arn
}

output "alarm_names" {
  description = "Raw-metric alarm names by metric (model_config.yml monitoring.alarms; none without that section)."
  value       = { for k, a in aws_cloudwatch_metric_alarm.raw_metric : k => a.alarm_name }
}

output "trip_alarm_names" {
  description = "Trip alarm names by rule (RuleVerdict >= 2 -> alarm topic -> breaker)."
  value       = { for rule, a in local.verdict_alarms_by_tier["trip"] : rule => a.alarm_name }
}

output "warning_alarm_names" {
  description = "Warning alarm names by rule (RuleVerdict >= 1 -> warnings topic)."
  value       = { for rule, a in local.verdict_alarms_by_tier["warning"] : rule => a.alarm_name }
}

output "metric_namespace" {
  description = "CloudWatch namespace of the model's metrics."
  value       = local.metric_namespace
}

output "dead_letter_queue_urls" {
  description = "Dead-letter queue URL per function (failed asynchronous invocations)."
  value       = { for k, q in aws_sqs_queue.dead_letter : k => q.url }
}

output "dead_letter_queue_arns" {
  description = "Dead-letter queue ARN per function."
  value       = { for k, q in aws_sqs_queue.dead_letter : k => q.arn }
}

output "log_group_names" {
  description = "CloudWatch log group per function."
  value       = { for k, g in aws_cloudwatch_log_group.function : k => g.name }
}

output "dashboard_name" {
  description = "CloudWatch dashboard with the alarm states, BreakerState, every rule's verdict, the metrics and thresholds."
  value       = aws_cloudwatch_dashboard.main.dashboard_name
}
