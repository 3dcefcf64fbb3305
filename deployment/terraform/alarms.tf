# Emergency alarms -> SNS topic -> breaker function: a trip alarm per rule that may trip
# (RuleVerdict >= 2, dimensions ModelName and Rule), plus any raw-metric alarms
# model_config.yml asks for. They watch no ModelVersion dimension, so they survive a model
# version change. Verdicts arrive once per batch: missing data is never breaching.
# All three topics (this one, warnings.tf's and operators.tf's) are encrypted with the
# notifications key (keys.tf) and accept publications from this account's CloudWatch alarms only.

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = aws_kms_key.notifications.arn
}

data "aws_iam_policy_document" "topic_publish" {
  for_each = {
    alarms    = aws_sns_topic.alarms.arn
    warnings  = aws_sns_topic.warnings.arn
    operators = aws_sns_topic.operators.arn
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

resource "aws_cloudwatch_metric_alarm" "trip" {
  for_each = { for name, rule in var.rules : name => rule if rule.trips }

  alarm_name          = "${var.name_prefix}-${var.model_name}-${each.key}-trip"
  alarm_description   = "${each.key} at trip level (${each.value.description}): the breaker opens."
  namespace           = local.metric_namespace
  metric_name         = "RuleVerdict"
  dimensions          = { ModelName = var.model_name, Rule = each.key }
  statistic           = "Maximum"
  period              = var.verdict_period_s
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = var.notify_ok_transitions ? [aws_sns_topic.alarms.arn] : []
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
