# Completion messages. load_obt consumes the topic through its Eventarc trigger (retried until the
# message age limit); messages Eventarc gives up on go to the dead-letter topic, whose subscription keeps
# them visible (scripts/deploy.sh attaches the dead-letter policy to the Eventarc-managed subscription,
# which Terraform cannot configure).

resource "google_pubsub_topic" "build_complete" {
  #checkov:skip=CKV_GCP_83:Completion messages hold ids and URIs only; Google-managed encryption suffices.
  name                       = local.build_topic
  message_retention_duration = "604800s"
  depends_on                 = [google_project_service.apis]
}

resource "google_pubsub_topic" "build_complete_dlq" {
  #checkov:skip=CKV_GCP_83:Dead letters are completion messages (ids and URIs); Google-managed encryption suffices.
  name                       = local.dlq_topic
  message_retention_duration = "604800s"
  depends_on                 = [google_project_service.apis]
}

resource "google_pubsub_subscription" "build_complete_dlq" {
  name                       = local.dlq_sub
  topic                      = google_pubsub_topic.build_complete_dlq.id
  message_retention_duration = "604800s"
  retain_acked_messages      = true
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent moves undeliverable messages to the dead-letter topic.
resource "google_pubsub_topic_iam_member" "dlq_publisher" {
  topic  = google_pubsub_topic.build_complete_dlq.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
