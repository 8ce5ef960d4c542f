# Three datasets: the OBT, staging tables of the loads (expiring on their own), and operations
# (load ledger, data-quality counts). load_obt creates and migrates the tables it owns.

resource "google_bigquery_dataset" "obt" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption; a CMEK key ring is an organisation-level decision outside this stack.
  dataset_id                 = local.obt_dataset
  location                   = var.bq_location
  description                = "The one big table (OBT): purchases and movie reviews per customer and review session."
  delete_contents_on_destroy = !var.deletion_protection
  depends_on                 = [google_project_service.apis]
}

resource "google_bigquery_dataset" "staging" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption; staging tables expire within days.
  dataset_id                  = local.staging_dataset
  location                    = var.bq_location
  description                 = "Per-build staging tables loaded from curated Parquet before the MERGE; they expire."
  default_table_expiration_ms = var.staging_table_expiration_days * 24 * 60 * 60 * 1000
  delete_contents_on_destroy  = true
  depends_on                  = [google_project_service.apis]
}

resource "google_bigquery_dataset" "ops" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption; operational counts only.
  dataset_id                 = local.ops_dataset
  location                   = var.bq_location
  description                = "Pipeline operations: load ledger and data-quality counts."
  delete_contents_on_destroy = !var.deletion_protection
  depends_on                 = [google_project_service.apis]
}
