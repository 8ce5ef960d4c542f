output "raw_bucket" {
  description = "Landing bucket (OBT_RAW_BUCKET): vendor files go under movie_review/ and log_reviews/ingest_date=YYYY-MM-DD/."
  value       = google_storage_bucket.raw.name
}

output "curated_bucket" {
  description = "Curated bucket (OBT_CURATED_BUCKET): build outputs, quarantine and manifests."
  value       = google_storage_bucket.curated.name
}

output "sources_bucket" {
  description = "Function archives, Spark job files and Cloud SQL seed files."
  value       = google_storage_bucket.sources.name
}

output "build_topic" {
  description = "Completion topic (OBT_BUILD_TOPIC); publish here to load or backfill a build by hand."
  value       = google_pubsub_topic.build_complete.name
}

output "dead_letter_subscription" {
  description = "Subscription of the dead-letter topic: completion messages load_obt could not process."
  value       = google_pubsub_subscription.build_complete_dlq.name
}

output "load_obt_trigger" {
  description = "Eventarc trigger of load_obt; scripts/deploy.sh attaches the dead-letter policy to its subscription."
  value       = google_cloudfunctions2_function.fn["load_obt"].event_trigger[0].trigger
}

output "function_uris" {
  description = "HTTPS endpoints of the functions (internal ingress; callers need roles/run.invoker)."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.service_config[0].uri }
}

output "function_names" {
  description = "Deployed function names by entry point."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.name }
}

output "scheduler_jobs" {
  description = "Cloud Scheduler job names by function (run one now with gcloud scheduler jobs run)."
  value       = { for name, job in google_cloud_scheduler_job.fn : name => job.name }
}

output "cloudsql_instance" {
  description = "Cloud SQL instance name (gcloud sql ...)."
  value       = google_sql_database_instance.source.name
}

output "cloudsql_connection_name" {
  description = "Cloud SQL connection name (OBT_CLOUDSQL_INSTANCE)."
  value       = google_sql_database_instance.source.connection_name
}

output "pg_database" {
  description = "Database holding user_purchase (OBT_PG_DATABASE)."
  value       = google_sql_database.source.name
}

output "extract_db_user" {
  description = "IAM database user of extract_postgres (OBT_PG_USER); grant it SELECT on user_purchase."
  value       = google_sql_user.extract.name
}

output "dataproc_service_account" {
  description = "Identity of the Spark batches (OBT_DATAPROC_SERVICE_ACCOUNT)."
  value       = google_service_account.dataproc.email
}

output "dataproc_subnetwork" {
  description = "Subnetwork of the Spark batches (OBT_DATAPROC_SUBNETWORK), with Private Google Access."
  value       = google_compute_subnetwork.dataproc.id
}

output "bigquery_datasets" {
  description = "BigQuery datasets: OBT (OBT_DATASET), staging (OBT_STAGING_DATASET), operations (OBT_OPS_DATASET)."
  value = {
    obt     = google_bigquery_dataset.obt.dataset_id
    staging = google_bigquery_dataset.staging.dataset_id
    ops     = google_bigquery_dataset.ops.dataset_id
  }
}

output "function_env" {
  description = "The environment every function receives: run the obt CLI against this deployment with it."
  value       = local.function_env
}
