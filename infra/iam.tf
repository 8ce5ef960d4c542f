# One identity per function, per trigger path and for the Spark batches; every grant is on the single
# resource it concerns, except where Google offers no resource-level role (noted on each).

locals {
  functions = toset(["extract_postgres", "on_raw_landed", "load_obt", "reconcile"])
  # Short names keep account ids within their 30-character limit for any 15-character prefix.
  sa_ids = {
    extract_postgres = "extract"
    on_raw_landed    = "landed"
    load_obt         = "load"
    reconcile        = "reconcile"
  }
}

resource "google_service_account" "fn" {
  for_each = local.functions

  account_id   = "${local.prefix}-run-${local.sa_ids[each.key]}"
  display_name = "OBT function ${each.key}"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "dataproc" {
  account_id   = "${local.prefix}-dataproc-batch"
  display_name = "OBT Dataproc Serverless batches (Spark job)"
  depends_on   = [google_project_service.apis]
}

# Cloud Build builds each function's image as a build-only identity of that function (not the project's
# default compute account, which newer projects no longer give build rights).
resource "google_service_account" "build" {
  for_each = local.functions

  account_id   = "${local.prefix}-bld-${local.sa_ids[each.key]}"
  display_name = "OBT function build for ${each.key}"
  depends_on   = [google_project_service.apis]
}

# Eventarc delivers events to a function with its own identity, one per event function.
resource "google_service_account" "trigger" {
  for_each = toset(["on_raw_landed", "load_obt"])

  account_id   = "${local.prefix}-trg-${local.sa_ids[each.key]}"
  display_name = "OBT Eventarc trigger for ${each.key}"
  depends_on   = [google_project_service.apis]
}

# Cloud Scheduler calls an HTTP function with an OIDC token of its own identity, one per job.
resource "google_service_account" "scheduler" {
  for_each = toset(["extract_postgres", "reconcile"])

  account_id   = "${local.prefix}-sch-${local.sa_ids[each.key]}"
  display_name = "OBT Cloud Scheduler job for ${each.key}"
  depends_on   = [google_project_service.apis]
}

# ---- extract_postgres: reads Cloud SQL as an IAM database user, writes snapshot parts and manifests.

resource "google_project_iam_member" "extract_sql_client" {
  # Cloud SQL has no instance-level IAM; the condition narrows the grant to this instance.
  project = var.project
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.fn["extract_postgres"].email}"

  condition {
    title      = "only-obt-source-instance"
    expression = "resource.name == \"projects/${var.project}/instances/${google_sql_database_instance.source.name}\""
  }
}

resource "google_project_iam_member" "extract_sql_instance_user" {
  project = var.project
  role    = "roles/cloudsql.instanceUser"
  member  = "serviceAccount:${google_service_account.fn["extract_postgres"].email}"

  condition {
    title      = "only-obt-source-instance"
    expression = "resource.name == \"projects/${var.project}/instances/${google_sql_database_instance.source.name}\""
  }
}

resource "google_storage_bucket_iam_member" "extract_raw" {
  # objectUser (create, read, list, delete; no IAM): a retried snapshot removes the parts a failed
  # attempt left behind. The condition keeps it to the snapshot prefixes: vendor files stay untouchable.
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.fn["extract_postgres"].email}"

  condition {
    title = "only-snapshot-prefixes"
    expression = join(" || ", concat(
      ["resource.type == \"storage.googleapis.com/Bucket\""],
      [for table in var.extract_tables : "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.raw.name}/objects/${table}/\")"],
    ))
  }
}

# ---- on_raw_landed: lists raw inputs, creates Dataproc batches running as the batch identity.

resource "google_storage_bucket_iam_member" "landed_raw_reader" {
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.fn["on_raw_landed"].email}"
}

resource "google_project_iam_member" "landed_dataproc_editor" {
  # Batches have no resource-level IAM; only the function that creates batches gets this role.
  project = var.project
  role    = "roles/dataproc.editor"
  member  = "serviceAccount:${google_service_account.fn["on_raw_landed"].email}"
}

resource "google_service_account_iam_member" "landed_acts_as_dataproc" {
  service_account_id = google_service_account.dataproc.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.fn["on_raw_landed"].email}"
}

# ---- load_obt: reads curated Parquet and manifests, runs load and MERGE jobs on its three datasets.

resource "google_storage_bucket_iam_member" "load_curated_reader" {
  bucket = google_storage_bucket.curated.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.fn["load_obt"].email}"
}

resource "google_project_iam_member" "load_bq_job_user" {
  # Running a job is a project-level permission in BigQuery; data access stays per dataset below.
  project = var.project
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.fn["load_obt"].email}"
}

resource "google_bigquery_dataset_iam_member" "load_datasets" {
  for_each = {
    obt     = google_bigquery_dataset.obt.dataset_id
    staging = google_bigquery_dataset.staging.dataset_id
    ops     = google_bigquery_dataset.ops.dataset_id
  }

  dataset_id = each.value
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.fn["load_obt"].email}"
}

# ---- reconcile: finds finished batches, reads build manifests, markers and the load ledger, publishes on their
# behalf (again, for a build whose message never reached the ledger).

resource "google_project_iam_member" "reconcile_dataproc_viewer" {
  # Batches have no resource-level IAM.
  project = var.project
  role    = "roles/dataproc.viewer"
  member  = "serviceAccount:${google_service_account.fn["reconcile"].email}"
}

resource "google_storage_bucket_iam_member" "reconcile_curated" {
  for_each = toset(["roles/storage.objectViewer", "roles/storage.objectCreator"])

  bucket = google_storage_bucket.curated.name
  role   = each.value
  member = "serviceAccount:${google_service_account.fn["reconcile"].email}"
}

resource "google_pubsub_topic_iam_member" "reconcile_publisher" {
  topic  = google_pubsub_topic.build_complete.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.fn["reconcile"].email}"
}

# Reconcile reads the load ledger (obt_ops.load_ledger) to find announced builds that never got an outcome.
resource "google_project_iam_member" "reconcile_bq_job_user" {
  # Running a query is a project-level permission in BigQuery; data access stays on the ops dataset below.
  project = var.project
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.fn["reconcile"].email}"
}

resource "google_bigquery_dataset_iam_member" "reconcile_ledger_reader" {
  dataset_id = google_bigquery_dataset.ops.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.fn["reconcile"].email}"
}

# ---- Dataproc batches: read raw and the job files, write curated, announce completion.

resource "google_project_iam_member" "dataproc_worker" {
  # Required by Dataproc Serverless for its own staging and metadata; granted to the batch identity only.
  project = var.project
  role    = "roles/dataproc.worker"
  member  = "serviceAccount:${google_service_account.dataproc.email}"
}

resource "google_storage_bucket_iam_member" "dataproc_read" {
  for_each = {
    raw     = google_storage_bucket.raw.name
    sources = google_storage_bucket.sources.name
  }

  bucket = each.value
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.dataproc.email}"
}

resource "google_storage_bucket_iam_member" "dataproc_curated" {
  # objectUser: Spark's committer creates, overwrites and deletes its own temporary files.
  bucket = google_storage_bucket.curated.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.dataproc.email}"
}

resource "google_pubsub_topic_iam_member" "dataproc_publisher" {
  topic  = google_pubsub_topic.build_complete.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.dataproc.email}"
}

# ---- Triggers and schedules: may invoke exactly their own function.

resource "google_cloud_run_service_iam_member" "trigger_invoker" {
  for_each = google_service_account.trigger

  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${each.value.email}"
}

resource "google_project_iam_member" "trigger_event_receiver" {
  # Eventarc checks this project-level role on the trigger identity; it carries no data access.
  for_each = google_service_account.trigger

  project = var.project
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${each.value.email}"
}

resource "google_cloud_run_service_iam_member" "scheduler_invoker" {
  for_each = google_service_account.scheduler

  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${each.value.email}"
}

# ---- Function builds: write build logs and push the image to the gcf-artifacts repository that Cloud
# Functions creates itself (so its name is not known here: project level), read the source archive.

resource "google_project_iam_member" "build_log_writer" {
  for_each = local.functions

  project = var.project
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build[each.key].email}"
}

resource "google_project_iam_member" "build_registry_writer" {
  for_each = local.functions

  project = var.project
  role    = "roles/artifactregistry.writer"
  member  = "serviceAccount:${google_service_account.build[each.key].email}"
}

resource "google_storage_bucket_iam_member" "build_sources" {
  for_each = local.functions

  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build[each.key].email}"
}

# ---- Google service agents that the wiring needs.

data "google_storage_project_service_account" "gcs" {
  project = var.project
}

resource "google_project_iam_member" "gcs_agent_publishes_events" {
  # Eventarc's Cloud Storage trigger publishes through a Pub/Sub topic that Eventarc itself creates (its
  # name is unknown here), as the Cloud Storage service agent: Google requires this project-level grant.
  project = var.project
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_storage_bucket_iam_member" "cloudsql_imports" {
  # `gcloud sql import` (infra/README.md) reads the seed files as the instance's service agent.
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_sql_database_instance.source.service_account_email_address}"
}
