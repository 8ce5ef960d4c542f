# A private network: Dataproc Serverless runs in its subnetwork (Private Google Access, no external IPs),
# Cloud SQL has only a private IP on it, and the functions reach that IP through a VPC connector.

resource "google_compute_network" "main" {
  name                    = "${local.prefix}-net"
  auto_create_subnetworks = false
  depends_on              = [google_project_service.apis]
}

resource "google_compute_subnetwork" "dataproc" {
  name                     = "${local.prefix}-dataproc"
  region                   = var.region
  network                  = google_compute_network.main.id
  ip_cidr_range            = var.network_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_5_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Dataproc Serverless requires its driver and executors to talk to each other on every port.
resource "google_compute_firewall" "dataproc_internal" {
  name          = "${local.prefix}-dataproc-internal"
  network       = google_compute_network.main.id
  direction     = "INGRESS"
  source_ranges = [var.network_cidr]

  allow {
    protocol = "all"
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Private services access: the peering range Cloud SQL's private IP comes from.
resource "google_compute_global_address" "private_services" {
  name          = "${local.prefix}-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 20
  network       = google_compute_network.main.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.main.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
}

resource "google_vpc_access_connector" "functions" {
  name          = "${local.prefix}-connector"
  region        = var.region
  network       = google_compute_network.main.name
  ip_cidr_range = var.connector_cidr
  min_instances = 2
  max_instances = 3
  machine_type  = "e2-micro"
  depends_on    = [google_project_service.apis]
}
