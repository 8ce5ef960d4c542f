# The two HTTP functions run on a schedule, called with an OIDC token of a scheduler-only identity.

locals {
  schedules = {
    extract_postgres = {
      schedule    = var.extract_schedule
      description = "Daily PostgreSQL snapshot of user_purchase into the raw bucket."
      deadline    = "1800s"
    }
    reconcile = {
      schedule    = var.reconcile_schedule
      description = "Publish completion for batches that ended without announcing it, or whose message never loaded."
      deadline    = "320s"
    }
  }
}

resource "google_cloud_scheduler_job" "fn" {
  for_each = local.schedules

  name             = "${local.prefix}-${replace(each.key, "_", "-")}"
  region           = var.region
  description      = each.value.description
  schedule         = each.value.schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = each.value.deadline

  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "300s"
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn[each.key].service_config[0].uri
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler[each.key].email
      audience              = google_cloudfunctions2_function.fn[each.key].service_config[0].uri
    }
  }

  depends_on = [google_cloud_run_service_iam_member.scheduler_invoker]
}
