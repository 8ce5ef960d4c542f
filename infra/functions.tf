# The four Cloud Functions (2nd gen), each deployed from its archive in the sources bucket (archives.tf).

locals {
  function_specs = {
    extract_postgres = {
      description = "Snapshots PostgreSQL user_purchase into the raw bucket (Cloud Scheduler, HTTP + OIDC)."
      memory      = "1Gi"
      cpu         = "1"
      # A full COPY of the table streams for minutes; HTTP functions may run up to 60.
      timeout       = 1800
      max_instances = 1
      concurrency   = 1
    }
    on_raw_landed = {
      description = "Plans an OBT build when raw input lands and submits it as a Dataproc batch (Eventarc, GCS)."
      memory      = "512Mi"
      cpu         = "1"
      # Event functions are capped at 9 minutes; planning lists objects and submits one batch.
      timeout       = 300
      max_instances = 10
      concurrency   = 1
    }
    load_obt = {
      description = "Loads a finished build into BigQuery and MERGEs it into the OBT (Eventarc, Pub/Sub)."
      memory      = "1Gi"
      cpu         = "1"
      timeout     = 540
      # Serialised MERGEs: one instance, one request at a time.
      max_instances = 1
      concurrency   = 1
    }
    reconcile = {
      description   = "Publishes completion for batches that ended without it or never loaded (Cloud Scheduler, HTTP + OIDC)."
      memory        = "512Mi"
      cpu           = "1"
      timeout       = 300
      max_instances = 1
      concurrency   = 1
    }
  }
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions

  name        = "${local.prefix}-${replace(each.key, "_", "-")}"
  location    = var.region
  description = local.function_specs[each.key].description

  build_config {
    runtime         = var.function_runtime
    entry_point     = each.key
    service_account = google_service_account.build[each.key].id

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.fn[each.key].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.fn[each.key].email
    available_memory                 = local.function_specs[each.key].memory
    available_cpu                    = local.function_specs[each.key].cpu
    timeout_seconds                  = local.function_specs[each.key].timeout
    min_instance_count               = 0
    max_instance_count               = local.function_specs[each.key].max_instances
    max_instance_request_concurrency = local.function_specs[each.key].concurrency
    environment_variables            = local.function_env
    # Only Google's own callers (Scheduler, Eventarc) reach the functions, and only with a token.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    vpc_connector                  = google_vpc_access_connector.functions.id
    vpc_connector_egress_settings  = "PRIVATE_RANGES_ONLY"
  }

  dynamic "event_trigger" {
    for_each = each.key == "on_raw_landed" ? [1] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.storage.object.v1.finalized"
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.trigger["on_raw_landed"].email

      event_filters {
        attribute = "bucket"
        value     = google_storage_bucket.raw.name
      }
    }
  }

  dynamic "event_trigger" {
    for_each = each.key == "load_obt" ? [1] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic          = google_pubsub_topic.build_complete.id
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.trigger["load_obt"].email
    }
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.build_log_writer,
    google_project_iam_member.build_registry_writer,
    google_storage_bucket_iam_member.build_sources,
    google_project_iam_member.gcs_agent_publishes_events,
    google_project_iam_member.trigger_event_receiver,
  ]
}
