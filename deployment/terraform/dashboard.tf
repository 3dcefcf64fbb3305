# One dashboard: the alarm states, the breaker state and whether it is readable, every
# rule's verdict, the raw-metric alarms with their thresholds, the other model/business
# metrics, and the functions' health.

locals {
  dimension = ["ModelName", var.model_name]

  alarm_widgets = [
    for i, name in sort(keys(local.alarms)) : {
      type   = "metric"
      x      = (i % 3) * 8
      y      = 12 + floor(i / 3) * 6
      width  = 8
      height = 6
      properties = {
        title   = "${name} (alarm ${local.alarms[name].comparison_operator} ${local.alarms[name].threshold})"
        region  = var.region
        view    = "timeSeries"
        stat    = local.alarms[name].statistic
        period  = local.alarms[name].period
        metrics = [concat([local.metric_namespace, name], local.dimension)]
        annotations = {
          horizontal = [{
            label = "alarm threshold"
            value = local.alarms[name].threshold
            fill  = startswith(local.alarms[name].comparison_operator, "Less") ? "below" : "above"
            color = "#d62728"
          }]
        }
      }
    }
  ]

  alarm_rows = ceil(length(local.alarms) / 3)
  lower_y    = 12 + local.alarm_rows * 6

  dashboard_widgets = concat(
    [
      {
        type   = "alarm"
        x      = 0
        y      = 0
        width  = 12
        height = 6
        properties = {
          title = "Trips and raw-metric alarms (-> breaker); state invalid, held too long (-> operators)"
          alarms = concat(
            [for a in local.verdict_alarms_by_tier["trip"] : a.arn],
            [for a in aws_cloudwatch_metric_alarm.raw_metric : a.arn],
            [for a in aws_cloudwatch_metric_alarm.operators : a.arn],
          )
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 0
        width  = 6
        height = 6
        properties = {
          title   = "BreakerState (0 CLOSED, 1 HALF_OPEN, 2 OPEN)"
          region  = var.region
          view    = "timeSeries"
          stat    = "Maximum"
          period  = 300
          metrics = [concat([local.metric_namespace, "BreakerState"], local.dimension)]
          yAxis   = { left = { min = 0, max = 2 } }
          annotations = {
            horizontal = [
              { label = "HALF_OPEN", value = 1, color = "#ff7f0e" },
              { label = "OPEN", value = 2, color = "#d62728" },
            ]
          }
        }
      },
      {
        type   = "metric"
        x      = 18
        y      = 0
        width  = 6
        height = 6
        properties = {
          title   = "BreakerStateInvalid (1: state unreadable), HeldTooLong (batches past their hold limit); -> operators"
          region  = var.region
          view    = "timeSeries"
          stat    = aws_cloudwatch_metric_alarm.operators["BreakerStateInvalid"].statistic
          period  = aws_cloudwatch_metric_alarm.operators["BreakerStateInvalid"].period
          metrics = [for name in keys(local.operator_alarms) : concat([local.metric_namespace, name], local.dimension)]
          yAxis   = { left = { min = 0 } }
          annotations = {
            horizontal = [{
              label = "alarm threshold"
              value = aws_cloudwatch_metric_alarm.operators["BreakerStateInvalid"].threshold
              fill  = "above"
              color = "#d62728"
            }]
          }
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 6
        width  = 12
        height = 6
        properties = {
          title  = "RuleVerdict per rule (0 ok, 1 warning, 2 trip)"
          region = var.region
          view   = "timeSeries"
          stat   = "Maximum"
          period = var.verdict_period_s
          metrics = [
            for rule in sort(keys(var.rules)) :
            concat([local.metric_namespace, "RuleVerdict"], local.dimension, ["Rule", rule])
          ]
          yAxis = { left = { min = 0, max = 2 } }
          annotations = {
            horizontal = [
              { label = "warning", value = 1, color = "#ff7f0e" },
              { label = "trip (rules that may trip)", value = 2, color = "#d62728" },
            ]
          }
        }
      },
      {
        type   = "alarm"
        x      = 12
        y      = 6
        width  = 12
        height = 6
        properties = {
          title  = "Warnings (-> warnings topic)"
          alarms = [for a in local.verdict_alarms_by_tier["warning"] : a.arn]
        }
      },
    ],
    local.alarm_widgets,
    [
      {
        type   = "metric"
        x      = 0
        y      = local.lower_y
        width  = 8
        height = 6
        properties = {
          title  = "Accuracy: estimated vs realised"
          region = var.region
          stat   = "Average"
          period = 3600
          metrics = [
            concat([local.metric_namespace, "EstimatedAccuracy"], local.dimension),
            concat([local.metric_namespace, "RealisedAccuracy"], local.dimension),
            concat([local.metric_namespace, "RealisedMacroF1"], local.dimension),
          ]
        }
      },
      {
        type   = "metric"
        x      = 8
        y      = local.lower_y
        width  = 8
        height = 6
        properties = {
          title  = "Business: positive-class rate and volume"
          region = var.region
          stat   = "Average"
          period = 3600
          metrics = [
            concat([local.metric_namespace, "PredictedPositiveRate"], local.dimension),
            concat([local.metric_namespace, "RealisedPositiveRate"], local.dimension),
            concat([local.metric_namespace, "VolumeRatio"], local.dimension),
          ]
        }
      },
      {
        type   = "metric"
        x      = 16
        y      = local.lower_y
        width  = 8
        height = 6
        properties = {
          title  = "Data: rows, PSI, unseen categories"
          region = var.region
          stat   = "Maximum"
          period = 3600
          metrics = [
            concat([local.metric_namespace, "RowCount"], local.dimension),
            concat([local.metric_namespace, "MaxPSI"], local.dimension),
            concat([local.metric_namespace, "UnseenCategoryRate"], local.dimension),
            concat([local.metric_namespace, "SchemaViolations"], local.dimension),
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = local.lower_y + 6
        width  = 12
        height = 6
        properties = {
          title  = "Lambda errors and throttles"
          region = var.region
          stat   = "Sum"
          period = 300
          metrics = concat(
            [for fn in sort(tolist(local.function_keys)) : ["AWS/Lambda", "Errors", "FunctionName", local.function_names[fn]]],
            [for fn in sort(tolist(local.function_keys)) : ["AWS/Lambda", "Throttles", "FunctionName", local.function_names[fn]]],
          )
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = local.lower_y + 6
        width  = 12
        height = 6
        properties = {
          title  = "Dead-letter queues: failed asynchronous events"
          region = var.region
          stat   = "Maximum"
          period = 300
          metrics = [
            for fn in sort(tolist(local.function_keys)) :
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dead_letter[fn].name]
          ]
        }
      },
    ],
  )
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = "${var.name_prefix}-${var.model_name}"
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
