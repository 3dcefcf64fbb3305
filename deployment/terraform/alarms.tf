# Emergency alarms on the model's metrics -> SNS topic -> breaker function.
# Alarms watch the [ModelName] dimension only, so they survive a model version change.
# Metrics arrive once per batch: missing data is never breaching.
# Both topics (this one and operators.tf's) are encrypted with the notifications key
# (keys.tf) and accept publications from this account's CloudWatch alarms only.

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = aws_kms_key.notifications.arn
}

data "aws_iam_policy_document" "topic_publish" {
  for_each = {
    alarms    = aws_sns_topic.alarms.arn
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

resource "aws_cloudwatch_metric_alarm" "emergency" {
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
