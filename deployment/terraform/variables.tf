# Inputs. `deploy.py` writes most of them into a tfvars JSON file (package paths and
# hashes from build/packages/manifest.json, the rules from the platform's code, alarm
# thresholds from model_config.yml); the defaults below are what a plain `terraform apply` gets.

# --- where to deploy ---------------------------------------------------------------

variable "endpoint_url" {
  description = "Empty: real AWS. Otherwise the URL of an emulator (LocalStack, moto_server) that every AWS service endpoint of the provider points to; credential, account and metadata checks are then skipped and S3 uses path-style addressing."
  type        = string
  default     = ""
}

variable "region" {
  description = "AWS region of every resource."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions, rules, queues, topic, dashboard, buckets). Lower case letters, digits and hyphens, so it is valid in bucket names."
  type        = string
  default     = "mlcycle"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix: 2-21 characters, lower case letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags on every resource (merged over Project and ManagedBy)."
  type        = map(string)
  default     = {}
}

variable "force_destroy_buckets" {
  description = "Let `terraform destroy` delete non-empty buckets (and every object version in them). deploy.py sets it for emulator endpoints only; keep it false on AWS so data is never deleted by accident."
  type        = bool
  default     = false
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted object version is kept in the versioned buckets before S3 expires it; 0 keeps them forever (no lifecycle rule)."
  type        = number
  default     = 90
}

# --- packages ----------------------------------------------------------------------

variable "packaging" {
  description = "\"layer\": code-only function zips plus one dependency layer (AWS). \"bundled\": dependencies inside each function zip, no layer (LocalStack Community does not apply layers)."
  type        = string
  default     = "layer"

  validation {
    condition     = contains(["layer", "bundled"], var.packaging)
    error_message = "packaging must be \"layer\" or \"bundled\"."
  }
}

variable "packages" {
  description = "The built zips (python -m layers.build --out build/packages): for the layer and for each function (code only) and bundled function, its absolute path, hex sha256 and base64 sha256 (Lambda's CodeSha256). deploy.py fills it from build/packages/manifest.json. `layer` may be null and `bundled` empty when packaging = \"bundled\" / \"layer\" respectively."
  type = object({
    layer = optional(object({
      path         = string
      sha256       = string
      base64sha256 = string
    }))
    functions = optional(map(object({
      path         = string
      sha256       = string
      base64sha256 = string
    })), {})
    bundled = optional(map(object({
      path         = string
      sha256       = string
      base64sha256 = string
    })), {})
  })
}

# --- functions ---------------------------------------------------------------------

variable "function_memory_mb" {
  description = "Memory (MB) per function, overriding the defaults train = 2048, infer = 2048, monitor = 1024, breaker = 256. Give only the functions you want to change."
  type        = map(number)
  default     = {}
}

variable "function_timeout_s" {
  description = "Timeout (seconds) per function, overriding the defaults train = 900, infer = 600, monitor = 300, breaker = 60. Give only the functions you want to change."
  type        = map(number)
  default     = {}
}

variable "breaker_reserved_concurrency" {
  description = "Reserved concurrent executions of the breaker function: a burst of the other functions can never throttle it (an OPEN that waits is a bad model that keeps publishing). The same number caps it. -1 reserves nothing (an account whose concurrency limit leaves no room to reserve: Lambda keeps 100 unreserved, or refuses any reservation on a new account limited to 10). 0 is refused: it would stop the breaker altogether."
  type        = number
  default     = 2

  validation {
    condition     = var.breaker_reserved_concurrency == -1 || var.breaker_reserved_concurrency >= 1
    error_message = "breaker_reserved_concurrency: -1 (no reservation) or at least 1 (0 would throttle every breaker invocation)."
  }
}

variable "function_endpoint_url" {
  description = "When not empty, set as AWS_ENDPOINT_URL in every function's environment (boto3's standard endpoint override) so the handlers talk to an emulator. Empty on AWS. LocalStack injects its own endpoint into its Lambdas, so it is usually empty there too."
  type        = string
  default     = ""
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
}

variable "omp_num_threads" {
  description = "OpenMP threads for scikit-learn in the functions. Below 1,769 MB a function has less than one vCPU, and a second OpenMP thread there only spins."
  type        = number
  default     = 1
}

variable "extra_environment" {
  description = "Extra environment variables for every function (for example MODEL_DIR)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of each function's CloudWatch log group."
  type        = number
  default     = 30
}

variable "async_max_retry_attempts" {
  description = "Retries Lambda makes for a failed asynchronous invocation (S3, EventBridge, SNS, async invoke) before the event goes to the function's dead-letter queue."
  type        = number
  default     = 2
}

variable "async_max_event_age_s" {
  description = "Maximum age (seconds) of an asynchronous event before Lambda stops retrying it and sends it to the dead-letter queue."
  type        = number
  default     = 21600
}

variable "dlq_message_retention_s" {
  description = "How long a failed event stays in a dead-letter queue (seconds; 14 days is the SQS maximum)."
  type        = number
  default     = 1209600
}

# --- keys --------------------------------------------------------------------------

variable "kms_key_deletion_window_days" {
  description = "Days between `terraform destroy` (or removal) of a KMS key and its deletion, during which the deletion can be cancelled (7-30). Losing the model signing key makes every stored model unverifiable: the functions then refuse them all."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days: 7 to 30 (KMS limits)."
  }
}

# --- schedules ---------------------------------------------------------------------

variable "training_schedule" {
  description = "EventBridge schedule of the daily training run (train function)."
  type        = string
  default     = "cron(0 3 * * ? *)"
}

variable "inference_schedule" {
  description = "EventBridge schedule of the inference rescan (infer function): picks up batches whose S3 event was missed. This rule is the inference trigger the circuit breaker disables."
  type        = string
  default     = "rate(1 hour)"
}

variable "hold_sweep_schedule" {
  description = "EventBridge schedule of the hold-limit sweep (infer, {\"action\": \"sweep_holds\"}): never disabled by the breaker, since batches are held while it is OPEN."
  type        = string
  default     = "rate(1 hour)"
}

variable "held_too_long_period_s" {
  description = "Period (s) of the HeldTooLong alarm (operators topic); the hold sweep runs hourly."
  type        = number
  default     = 3600
}

variable "monitoring_schedule" {
  description = "EventBridge schedule of the monitoring sweep (monitor function): late labels, missed batches, metrics."
  type        = string
  default     = "rate(6 hours)"
}

# --- monitoring --------------------------------------------------------------------

variable "model_name" {
  description = "Model name (model_config.yml `name`): CloudWatch namespace MLCycle/<model_name> and the ModelName dimension the alarms watch."
  type        = string
  default     = "booking_status"
}

variable "rules" {
  description = <<-EOT
    The rules the monitor and infer's gate judge each batch with (mlcycle.monitoring.rules.RULES),
    by name: whether the rule may trip the breaker, and what it watches. Each rule gets a warning
    alarm (RuleVerdict >= 1 -> warnings topic); each rule that may trip also a trip alarm
    (RuleVerdict >= 2 -> alarm topic -> breaker). deploy.py passes them from the code, leaving out
    rules model_config.yml disables; the default is the same set (tests/unit/test_layout.py keeps
    them equal).
  EOT
  type = map(object({
    trips       = bool
    description = string
  }))
  default = {
    JoinCoverage      = { trips = true, description = "share of rows matched in each source" }
    NullRate          = { trips = true, description = "share of missing values per feature" }
    ViolationRate     = { trips = true, description = "contract violations per row" }
    Volume            = { trips = true, description = "rows: trips below the floor, warns on change" }
    EstimatedAccuracy = { trips = true, description = "accuracy expected from calibrated confidence (no labels needed)" }
    EarlyPositiveRate = { trips = true, description = "positives known so far / positives the model expects, against recent batches at the same age" }
    RealisedAccuracy  = { trips = true, description = "accuracy on labels" }
    PositiveRateGap   = { trips = true, description = "realised minus predicted positive rate on complete labels" }
    EstimateError     = { trips = false, description = "estimated minus realised accuracy: how well the label-free estimate holds" }
    FeatureDrift      = { trips = false, description = "features whose distribution moved" }
    PredictionDrift   = { trips = false, description = "predicted class shares moved" }
    PositiveRate      = { trips = false, description = "predicted positive rate" }
  }
}

variable "verdict_period_s" {
  description = "Period (s) of the verdict alarms: each looks at the highest RuleVerdict of its rule put during one period. The monitor puts one per batch, so a period without a batch is missing data, never breaching. CloudWatch periods: 10, 20, 30 or a multiple of 60."
  type        = number
  default     = 300

  validation {
    condition     = contains([10, 20, 30], var.verdict_period_s) || (var.verdict_period_s >= 60 && var.verdict_period_s % 60 == 0)
    error_message = "verdict_period_s: 10, 20, 30 or a multiple of 60."
  }
}

variable "alarms" {
  description = <<-EOT
    Extra alarms on the raw metrics, keyed by CloudWatch metric name (namespace
    MLCycle/<model_name>, single dimension ModelName), notifying the alarm topic (-> breaker) like
    a trip. None by default: the verdict alarms (`rules`) are the emergency alarms. Each:
    comparison_operator (CloudWatch name), threshold, and optionally statistic, period (s),
    evaluation_periods, datapoints_to_alarm and description. deploy.py adds the ones
    model_config.yml `monitoring.alarms` names (`alarm_overrides`). Missing data is never breaching.
  EOT
  type = map(object({
    comparison_operator = string
    threshold           = number
    statistic           = optional(string, "Maximum")
    period              = optional(number, 300)
    evaluation_periods  = optional(number, 1)
    datapoints_to_alarm = optional(number, 1)
    description         = optional(string, "")
  }))
  default = {}

  validation {
    condition = alltrue([for a in values(var.alarms) : contains([
      "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"
    ], a.comparison_operator)])
    error_message = "alarms: comparison_operator must be one of GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold, LessThanOrEqualToThreshold."
  }
}

variable "alarm_overrides" {
  description = <<-EOT
    Per-metric additions to (or changes of) `alarms`, as deploy.py derives them from
    model_config.yml `monitoring.alarms` (e.g. `join_coverage_min: 0.8` -> JoinCoverage =
    { threshold = 0.8, direction = "min" }). direction "min" means the metric must stay at or
    above the threshold (a Less* comparison), "max" at or below it (a Greater* comparison). An
    alarm in `alarms` keeps its comparison operator and statistic unless they are given; a new
    one gets LessThanThreshold and Minimum ("min", or a Less* comparison given) or
    GreaterThanThreshold and Maximum ("max").
  EOT
  type = map(object({
    threshold           = number
    direction           = optional(string)
    comparison_operator = optional(string)
    statistic           = optional(string)
    period              = optional(number)
    evaluation_periods  = optional(number)
    datapoints_to_alarm = optional(number)
    description         = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for o in values(var.alarm_overrides) : o.direction == null || contains(["min", "max"], coalesce(o.direction, "min"))])
    error_message = "alarm_overrides: direction must be \"min\" or \"max\"."
  }
}

variable "notify_ok_transitions" {
  description = "Also send ALARM -> OK transitions of the trip and raw-metric alarms to the alarm topic (the breaker logs them; it never closes on them alone). Warnings never send OK: with one verdict per batch, every warning would be followed by an OK mail."
  type        = bool
  default     = true
}

variable "breaker_state_invalid_period_s" {
  description = "Period (s) of the BreakerStateInvalid alarm (operators topic): it fires when any function put BreakerStateInvalid >= 1 during one period. CloudWatch periods: 10, 20, 30 or a multiple of 60."
  type        = number
  default     = 300

  validation {
    condition     = contains([10, 20, 30], var.breaker_state_invalid_period_s) || (var.breaker_state_invalid_period_s >= 60 && var.breaker_state_invalid_period_s % 60 == 0)
    error_message = "breaker_state_invalid_period_s: 10, 20, 30 or a multiple of 60."
  }
}

variable "operator_email_addresses" {
  description = "E-mail addresses subscribed to the operators topic (alarms that need a person, such as BreakerStateInvalid). Each address must confirm its subscription; empty: subscribe something else to the topic (operators_topic_arn) yourself."
  type        = list(string)
  default     = []
}

variable "warning_email_addresses" {
  description = "E-mail addresses subscribed to the warnings topic (every rule's warning alarm: drift, business and calibration rules, and the early signs of the rules that trip). Each address must confirm its subscription; empty: subscribe something else to the topic (warnings_topic_arn) yourself."
  type        = list(string)
  default     = []
}

variable "infer_shard_bytes" {
  description = "A batch whose target source (bookings) is larger than this many bytes is split into shards of about this size, each scored by its own asynchronous invocation of the infer function; one _SUCCESS lists every part. 256 MiB is about 5M rows, scored in about 2 minutes at 1,769 MB. 0 never shards."
  type        = number
  default     = 268435456

  validation {
    condition     = var.infer_shard_bytes == 0 || var.infer_shard_bytes >= 1048576
    error_message = "infer_shard_bytes: 0 (never shard) or at least 1 MiB."
  }
}

variable "infer_max_shards" {
  description = "Most shards one batch is split into: a larger batch gets larger shards (each must still finish within the infer timeout)."
  type        = number
  default     = 100

  validation {
    condition     = var.infer_max_shards >= 2 && var.infer_max_shards <= 10000
    error_message = "infer_max_shards: from 2 to 10000."
  }
}

variable "infer_shard_deadline_s" {
  description = "Seconds after planning by which every shard of a batch must have reported; past it, the next shard to finish or the hourly rescan quarantines the batch, naming the shards that did not report. Leave room for Lambda's retries of a failed shard (timeout x attempts)."
  type        = number
  default     = 3600

  validation {
    condition     = var.infer_shard_deadline_s >= 60
    error_message = "infer_shard_deadline_s: at least 60."
  }
}

variable "infer_reserved_concurrency" {
  description = "Reserved (and so capped) concurrent executions of the infer function: how many shards run at once; more wait in Lambda's async queue. The breaker's own reservation (breaker_reserved_concurrency) is separate and untouched. -1 reserves and caps nothing (accounts whose limit leaves no room to reserve)."
  type        = number
  default     = 10

  validation {
    condition     = var.infer_reserved_concurrency == -1 || var.infer_reserved_concurrency >= 1
    error_message = "infer_reserved_concurrency: -1 (no reservation) or at least 1."
  }
}

variable "infer_ephemeral_storage_mb" {
  description = "/tmp of the infer function (MB, 512-10240): key hashes spilled for the whole-file duplicate check (16 bytes a row of a unique column) and an attribute source joined from disk (about 25 bytes a row while it is built)."
  type        = number
  default     = 4096

  validation {
    condition     = var.infer_ephemeral_storage_mb >= 512 && var.infer_ephemeral_storage_mb <= 10240
    error_message = "infer_ephemeral_storage_mb: from 512 to 10240."
  }
}
