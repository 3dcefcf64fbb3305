# Emergency alarms -> SNS topic -> breaker function: a trip alarm per rule that may trip
# (RuleVerdict >= 2, dimensions ModelName and Rule), plus any raw-metric alarms
# model_config.yml asks for. Beside them a warning alarm per rule (RuleVerdict >= 1) notifies
# the warnings topic (operators.tf), never the breaker. They watch no ModelVersion dimension,
# so they survive a model version change. Verdicts arrive once per batch: missing data is
# never breaching.
# All three topics (this one and operators.tf's two) are encrypted with the notifications key
# (keys.tf) and accept publications from this account's CloudWatch alarms only.

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = aws_kms_key.notifications.arn
}

data "aws_iam_policy_document" "topic_publish" {
  for_each = {
    alarms    = aws_sns_topic.alarms.arn
    warnings  = module.email_topic["warnings"].arn
    operators = module.email_topic["operators"].arn
  }

  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [each.value]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.topic_publish["alarms"].json
}

locals {
  # Warnings never send OK: with one verdict per batch, every warning would be followed by an
  # OK mail.
  verdict_tiers = {
    trip = {
      threshold = 2
      topic     = aws_sns_topic.alarms.arn
      notify_ok = var.notify_ok_transitions
      meaning   = "at trip level (%s): the breaker opens."
    }
    warning = {
      threshold = 1
      topic     = module.email_topic["warnings"].arn
      notify_ok = false
      meaning   = "at warning level or above (%s): worth a look; nothing is stopped."
    }
  }
  # Keyed "<rule>-<tier>", the alarm name's suffix.
  verdict_alarms = merge([
    for tier, settings in local.verdict_tiers : {
      for rule, r in var.rules : "${rule}-${tier}" => merge(settings, {
        rule        = rule
        tier        = tier
        description = "${rule} ${format(settings.meaning, r.description)}"
      }) if r.trips || tier == "warning"
    }
  ]...)
}

resource "aws_cloudwatch_metric_alarm" "verdict" {
  for_each = local.verdict_alarms

  alarm_name          = "${var.name_prefix}-${var.model_name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = local.metric_namespace
  metric_name         = "RuleVerdict"
  dimensions          = { ModelName = var.model_name, Rule = each.value.rule }
  statistic           = "Maximum"
  period              = var.verdict_period_s
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [each.value.topic]
  ok_actions          = each.value.notify_ok ? [each.value.topic] : []
}

locals {
  # The alarms by tier, then rule: what the outputs and the dashboard list.
  verdict_alarms_by_tier = {
    for tier in keys(local.verdict_tiers) : tier => {
      for key, alarm in local.verdict_alarms :
      alarm.rule => aws_cloudwatch_metric_alarm.verdict[key] if alarm.tier == tier
    }
  }
}

# Their addresses while trips and warnings were two resources keyed by rule: a state applied
# then keeps them.
moved {
  from = aws_cloudwatch_metric_alarm.trip["JoinCoverage"]
  to   = aws_cloudwatch_metric_alarm.verdict["JoinCoverage-trip"]
}

moved {
  from = aws_cloudwatch_metric_alarm.trip["NullRate"]
  to   = aws_cloudwatch_metric_alarm.verdict["NullRate-trip"]
}

moved {
  from = aws_cloudwatch_metric_alarm.trip["ViolationRate"]
  to   = aws_cloudwatch_metric_alarm.verdict["ViolationRate-trip"]
}

moved {
  from = aws_cloudwatch_metric_alarm.trip["Volume"]
  to   = aws_cloudwatch_metric_alarm.verdict["Volume-trip"]
}

moved {
  from = aws_cloudwatch_metric_alarm.trip["EstimatedAccuracy"]
  to   = aws_cloudwatch_metric_alarm.verdict["EstimatedAccuracy-trip"]
}

moved {
  from = aws_cloudwatch_metric_alarm.trip["EarlyPositiveRate"]
  to   = aws_cloudwatch_metric_alarm.verdict["EarlyPositiveRate-trip"]
}

moved {
  from = aws_cloudwatch_metric_alarm.trip["RealisedAccuracy"]
  to   = aws_cloudwatch_metric_alarm.verdict["RealisedAccuracy-trip"]
}

moved {
  from = aws_cloudwatch_metric_alarm.trip["PositiveRateGap"]
  to   = aws_cloudwatch_metric_alarm.verdict["PositiveRateGap-trip"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["JoinCoverage"]
  to   = aws_cloudwatch_metric_alarm.verdict["JoinCoverage-warning"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["NullRate"]
  to   = aws_cloudwatch_metric_alarm.verdict["NullRate-warning"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["ViolationRate"]
  to   = aws_cloudwatch_metric_alarm.verdict["ViolationRate-warning"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["Volume"]
  to   = aws_cloudwatch_metric_alarm.verdict["Volume-warning"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["EstimatedAccuracy"]
  to   = aws_cloudwatch_metric_alarm.verdict["EstimatedAccuracy-warning"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["EarlyPositiveRate"]
  to   = aws_cloudwatch_metric_alarm.verdict["EarlyPositiveRate-warning"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["RealisedAccuracy"]
  to   = aws_cloudwatch_metric_alarm.verdict["RealisedAccuracy-warning"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["PositiveRateGap"]
  to   = aws_cloudwatch_metric_alarm.verdict["PositiveRateGap-warning"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["EstimateError"]
  to   = aws_cloudwatch_metric_alarm.verdict["EstimateError-warning"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["FeatureDrift"]
  to   = aws_cloudwatch_metric_alarm.verdict["FeatureDrift-warning"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["PredictionDrift"]
  to   = aws_cloudwatch_metric_alarm.verdict["PredictionDrift-warning"]
}

moved {
  from = aws_cloudwatch_metric_alarm.warning["PositiveRate"]
  to   = aws_cloudwatch_metric_alarm.verdict["PositiveRate-warning"]
}

resource "aws_cloudwatch_metric_alarm" "raw_metric" {
  for_each = local.alarms

  alarm_name          = "${var.name_prefix}-${var.model_name}-${each.key}"
  alarm_description   = each.value.description != "" ? each.value.description : "${each.key} ${each.value.comparison_operator} ${each.value.threshold}"
  namespace           = local.metric_namespace
  metric_name         = each.key
  dimensions          = { ModelName = var.model_name }
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  comparison_operator = each.value.comparison_operator
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = var.notify_ok_transitions ? [aws_sns_topic.alarms.arn] : []

  lifecycle {
    precondition {
      condition     = length(local.alarm_direction_conflicts) == 0
      error_message = "alarm_overrides contradict the alarms' comparison operators for: ${join(", ", local.alarm_direction_conflicts)} (\"min\" needs Less*, \"max\" Greater*)."
    }
  }
}

# Their name before the verdict alarms took the emergency role: a state applied then keeps them.
moved {
  from = aws_cloudwatch_metric_alarm.emergency
  to   = aws_cloudwatch_metric_alarm.raw_metric
}

resource "aws_lambda_permission" "alarm_topic" {
  statement_id  = "AllowAlarmTopic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["breaker"].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.alarms.arn
}

resource "aws_sns_topic_subscription" "breaker" {
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.this["breaker"].arn

  depends_on = [aws_lambda_permission.alarm_topic]
}
