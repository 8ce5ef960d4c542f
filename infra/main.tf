# One `terraform apply` creates everything the code expects. Names derive from var.name_prefix; the
# functions receive every setting through environment variables built here (local.function_env).

data "google_project" "this" {
  project_id = var.project
}

locals {
  prefix        = var.name_prefix
  bucket_prefix = "${var.project}-${var.name_prefix}"

  raw_bucket     = "${local.bucket_prefix}-raw"
  curated_bucket = "${local.bucket_prefix}-curated"
  sources_bucket = "${local.bucket_prefix}-sources"

  # The names the code uses (obt/config.py, docs/contracts.md).
  build_topic     = "obt-build-complete"
  dlq_topic       = "obt-build-complete-dlq"
  dlq_sub         = "obt-build-complete-dlq-sub"
  obt_dataset     = "movie_analytics"
  obt_table       = "obt"
  staging_dataset = "obt_staging"
  ops_dataset     = "obt_ops"

  apis = [
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "dataproc.googleapis.com",
    "eventarc.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
    "vpcaccess.googleapis.com",
  ]

  # Cloud SQL IAM database users of service accounts are named by the email without this suffix.
  extract_db_user = trimsuffix(google_service_account.fn["extract_postgres"].email, ".gserviceaccount.com")

  # Every setting obt.config.Settings reads in production. The same map goes to every function, so no
  # function can miss one; local-only settings (emulators, state folder, passwords) are never set here.
  function_env = {
    OBT_ENV                      = "gcp"
    OBT_WAREHOUSE                = "bigquery"
    OBT_PROJECT                  = var.project
    OBT_REGION                   = var.region
    OBT_RAW_BUCKET               = google_storage_bucket.raw.name
    OBT_CURATED_BUCKET           = google_storage_bucket.curated.name
    OBT_BUILD_TOPIC              = google_pubsub_topic.build_complete.name
    OBT_DATAPROC_RUNTIME_VERSION = var.dataproc_runtime_version
    OBT_DATAPROC_SERVICE_ACCOUNT = google_service_account.dataproc.email
    OBT_DATAPROC_SUBNETWORK      = google_compute_subnetwork.dataproc.id
    OBT_SPARK_PROPERTIES         = jsonencode(var.spark_properties)
    OBT_JOB_MAIN_URI             = "gs://${google_storage_bucket.sources.name}/${google_storage_bucket_object.job_main.name}"
    OBT_JOB_PY_FILES             = "gs://${google_storage_bucket.sources.name}/${google_storage_bucket_object.job_package.name}"
    OBT_DQ_MAX_QUARANTINE_SHARE  = tostring(var.max_quarantine_share)
    OBT_TAGGER_MODEL_URI         = var.tagger_model_uri
    OBT_RECONCILE_LOOKBACK_HOURS = tostring(var.reconcile_lookback_hours)
    OBT_RECONCILE_GRACE_MINUTES  = tostring(var.reconcile_grace_minutes)
    OBT_BQ_LOCATION              = var.bq_location
    OBT_DATASET                  = google_bigquery_dataset.obt.dataset_id
    OBT_TABLE                    = local.obt_table
    OBT_STAGING_DATASET          = google_bigquery_dataset.staging.dataset_id
    OBT_OPS_DATASET              = google_bigquery_dataset.ops.dataset_id
    OBT_CLOUDSQL_INSTANCE        = google_sql_database_instance.source.connection_name
    OBT_CLOUDSQL_IP_TYPE         = "private"
    OBT_PG_IAM_AUTH              = "true"
    OBT_PG_USER                  = local.extract_db_user
    OBT_PG_DATABASE              = google_sql_database.source.name
    OBT_EXTRACT_TABLES           = join(",", var.extract_tables)
    OBT_EXTRACT_PART_BYTES       = tostring(64 * 1024 * 1024)
  }
}

resource "google_project_service" "apis" {
  for_each = toset(local.apis)

  project            = var.project
  service            = each.value
  disable_on_destroy = false
}
