variable "project" {
  description = "Google Cloud project id to deploy into (it must already exist, with billing enabled)."
  type        = string
}

variable "region" {
  description = "Region for every regional resource: functions, Cloud SQL, Dataproc, buckets, Eventarc, Scheduler."
  type        = string
  default     = "us-central1"
}

variable "name_prefix" {
  description = "Prefix of every resource name; bucket names also carry the project id to be globally unique."
  type        = string
  default     = "obt"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.name_prefix))
    error_message = "name_prefix must be 2-15 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "bq_location" {
  description = "BigQuery location of the three datasets (multi-region US or EU, or a region)."
  type        = string
  default     = "US"
}

variable "function_runtime" {
  description = "Cloud Functions (2nd gen) Python runtime."
  type        = string
  default     = "python311"
}

variable "dataproc_runtime_version" {
  description = "Dataproc Serverless runtime version for the Spark job (3.0 = Spark 4, needed for from_xml)."
  type        = string
  default     = "3.0"
}

variable "spark_properties" {
  description = "Spark properties of every OBT batch (passed to on_raw_landed as OBT_SPARK_PROPERTIES)."
  type        = map(string)
  default = {
    "spark.driver.cores"                   = "4"
    "spark.driver.memory"                  = "9600m"
    "spark.executor.cores"                 = "4"
    "spark.executor.memory"                = "9600m"
    "spark.dynamicAllocation.maxExecutors" = "10"
  }
}

variable "max_quarantine_share" {
  description = "A build fails when more than this share of a source's rows is quarantined (0..1)."
  type        = number
  default     = 0.5
}

variable "tagger_model_uri" {
  description = "The review tagger's model folder, gs://SOURCES/tagger/<model_version>/ (scripts/deploy.sh uploads it and sets this); empty = no tagging."
  type        = string
  default     = ""

  validation {
    condition     = var.tagger_model_uri == "" || can(regex("^gs://[^/]+/.+/$", var.tagger_model_uri))
    error_message = "tagger_model_uri must be empty or a gs:// folder ending in /, named after its model version: gs://BUCKET/tagger/<model_version>/."
  }
}

variable "reconcile_lookback_hours" {
  description = "How far back reconcile looks for batches that ended without a completion message."
  type        = number
  default     = 72
}

variable "reconcile_grace_minutes" {
  description = "How long reconcile lets a published build go without a load-ledger outcome before publishing it again."
  type        = number
  default     = 30
}

variable "cloudsql_tier" {
  description = "Machine tier of the Cloud SQL PostgreSQL instance."
  type        = string
  default     = "db-custom-1-3840"
}

variable "pg_database" {
  description = "Name of the PostgreSQL database that holds user_purchase."
  type        = string
  default     = "retail"
}

variable "extract_tables" {
  description = "Tables extract_postgres snapshots (comma-separated in OBT_EXTRACT_TABLES)."
  type        = list(string)
  default     = ["user_purchase"]
}

variable "extract_schedule" {
  description = "Cloud Scheduler cron (UTC) for the PostgreSQL snapshot."
  type        = string
  default     = "0 2 * * *"
}

variable "reconcile_schedule" {
  description = "Cloud Scheduler cron (UTC) for reconcile."
  type        = string
  default     = "*/15 * * * *"
}

variable "staging_table_expiration_days" {
  description = "Default table expiration of the obt_staging dataset, in days."
  type        = number
  default     = 2
}

variable "build_output_retention_days" {
  description = "Age in days after which build outputs (curated obt/, staging data for the BigQuery load) are deleted."
  type        = number
  default     = 30
}

variable "quarantine_retention_days" {
  description = "Age in days after which quarantined rows (curated quarantine/) move to Nearline, then are deleted after twice that."
  type        = number
  default     = 90
}

variable "noncurrent_version_retention_days" {
  description = "Days a replaced or deleted object version is kept in the versioned buckets."
  type        = number
  default     = 30
}

variable "deletion_protection" {
  description = "Protect the Cloud SQL instance and the BigQuery OBT against terraform destroy. Set false only to tear down."
  type        = bool
  default     = true
}

variable "network_cidr" {
  description = "Primary range of the subnetwork the Dataproc Serverless batches run in."
  type        = string
  default     = "10.10.0.0/20"
}

variable "connector_cidr" {
  description = "A /28 range for the Serverless VPC Access connector (functions to Cloud SQL's private IP)."
  type        = string
  default     = "10.10.16.0/28"
}
