# The OLTP source: PostgreSQL with only a private IP and IAM database authentication. extract_postgres
# logs in as its own service account (no password anywhere) through the Cloud SQL connector, whose
# ephemeral client certificates satisfy TRUSTED_CLIENT_CERTIFICATE_REQUIRED; the table's owner grants it SELECT
# (see infra/README.md, "Load the source table").

resource "google_sql_database_instance" "source" {
  #checkov:skip=CKV_GCP_79:Pinned to PostgreSQL 15, the major version the extract is tested against locally; upgrade deliberately.
  name                = "${local.prefix}-postgres"
  region              = var.region
  database_version    = "POSTGRES_15"
  deletion_protection = var.deletion_protection

  settings {
    tier              = var.cloudsql_tier
    availability_type = "ZONAL"
    disk_autoresize   = true

    ip_configuration {
      ipv4_enabled                                  = false
      private_network                               = google_compute_network.main.id
      enable_private_path_for_google_cloud_services = true
      ssl_mode                                      = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "01:00"
    }

    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }

    insights_config {
      query_insights_enabled = true
    }
  }

  depends_on = [google_service_networking_connection.private_services]
}

resource "google_sql_database" "source" {
  name     = var.pg_database
  instance = google_sql_database_instance.source.name
}

resource "google_sql_user" "extract" {
  name     = local.extract_db_user
  instance = google_sql_database_instance.source.name
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}
