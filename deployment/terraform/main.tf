# Names and per-function settings, computed once. Names are derived from variables
# only (never from resource attributes), so the breaker's environment can name the
# train/infer functions and the inference rule without a dependency cycle.
locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # handlers.FUNCTIONS (lambda/handlers/__init__.py) lists the same functions; a test compares them.
  function_keys = toset(["train", "infer", "monitor", "breaker"])

  function_defaults = {
    train   = { memory_mb = 2048, timeout_s = 900 }
    infer   = { memory_mb = 2048, timeout_s = 600 }
    monitor = { memory_mb = 1024, timeout_s = 300 }
    breaker = { memory_mb = 256, timeout_s = 60 }
  }

  function_names          = { for fn in local.function_keys : fn => "${var.name_prefix}-${fn}" }
  dead_letter_queue_names = { for fn in local.function_keys : fn => "${var.name_prefix}-${fn}-dlq" }

  function_settings = {
    for fn in local.function_keys : fn => {
      memory_mb = lookup(var.function_memory_mb, fn, local.function_defaults[fn].memory_mb)
      timeout_s = lookup(var.function_timeout_s, fn, local.function_defaults[fn].timeout_s)
    }
  }

  # Bucket names are global on AWS: account and region make them unique.
  bucket_keys  = toset(["data", "models", "predictions", "monitoring", "artifacts"])
  bucket_names = { for b in local.bucket_keys : b => "${var.name_prefix}-${b}-${local.account_id}-${var.region}" }

  rule_names = {
    training   = "${var.name_prefix}-daily-training"
    inference  = "${var.name_prefix}-inference-rescan"
    monitoring = "${var.name_prefix}-monitoring"
    hold_sweep = "${var.name_prefix}-hold-sweep"
  }

  metric_namespace = "MLCycle/${var.model_name}"

  # The zips this packaging deploys: code-only + layer, or bundled.
  function_packages = var.packaging == "layer" ? var.packages.functions : var.packages.bundled
  use_layer         = var.packaging == "layer"
}

# Raw-metric alarms = var.alarms (none by default), with var.alarm_overrides (model_config.yml).
locals {
  new_alarm_template = {
    min = { comparison_operator = "LessThanThreshold", statistic = "Minimum" }
    max = { comparison_operator = "GreaterThanThreshold", statistic = "Maximum" }
  }

  # A new alarm's direction: as given, else the one its comparison reads (a "<=" floor wants the
  # period's Minimum), else "max".
  new_alarm_direction = {
    for metric, o in var.alarm_overrides : metric => coalesce(
      o.direction, startswith(coalesce(o.comparison_operator, "Greater"), "Less") ? "min" : "max"
    )
  }

  alarms = merge(var.alarms, {
    for metric, o in var.alarm_overrides : metric => {
      threshold = o.threshold
      comparison_operator = (o.comparison_operator != null ? o.comparison_operator
      : try(var.alarms[metric].comparison_operator, local.new_alarm_template[local.new_alarm_direction[metric]].comparison_operator))
      statistic = (o.statistic != null ? o.statistic
      : try(var.alarms[metric].statistic, local.new_alarm_template[local.new_alarm_direction[metric]].statistic))
      period              = o.period != null ? o.period : try(var.alarms[metric].period, 300)
      evaluation_periods  = o.evaluation_periods != null ? o.evaluation_periods : try(var.alarms[metric].evaluation_periods, 1)
      datapoints_to_alarm = o.datapoints_to_alarm != null ? o.datapoints_to_alarm : try(var.alarms[metric].datapoints_to_alarm, 1)
      description         = o.description != null ? o.description : try(var.alarms[metric].description, "")
    }
  })

  # "min" needs a Less* operator, "max" a Greater* one: a config that contradicts the
  # alarm it changes is an error, not a silent flip.
  alarm_direction_conflicts = [
    for metric, o in var.alarm_overrides : metric
    if o.direction != null && !startswith(local.alarms[metric].comparison_operator, o.direction == "min" ? "Less" : "Greater")
  ]
}
