#!/usr/bin/env bash
# Deploy the pipeline to Google Cloud with Terraform (infra/), and the few steps Terraform cannot do.
#
#   scripts/deploy.sh deploy  [--project P] [--region R] [--name-prefix N] [-- extra terraform args]
#   scripts/deploy.sh seed    FILE.csv[.gz|.xz] [--project P] ...   load user_purchase into Cloud SQL
#   scripts/deploy.sh destroy [--project P] ...                      empty the buckets, then tear down
#
# The project also comes from $PROJECT or $GOOGLE_CLOUD_PROJECT. `deploy` builds the function archives and
# the Spark job's package with scripts/archives.py, the build Terraform itself runs (infra/archives.tf), so a
# packaging error stops the deploy before Terraform starts; then `terraform apply` uploads them (content-named
# objects in the sources bucket) and deploys, and the script attaches the dead-letter topic to load_obt's
# Eventarc-managed subscription, which the Terraform provider cannot configure. Every step is safe to repeat.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INFRA="$ROOT/infra"
DLQ_TOPIC="obt-build-complete-dlq"
MAX_DELIVERY_ATTEMPTS=10

die() { echo "deploy: error: $*" >&2; exit 2; }
say() { echo "deploy: $*" >&2; }

command_name="${1:-}"
case "$command_name" in
  deploy | seed | destroy) shift ;;
  *) die "usage: scripts/deploy.sh deploy|seed|destroy [--project P] [--region R] [--name-prefix N]" ;;
esac

project="${PROJECT:-${GOOGLE_CLOUD_PROJECT:-}}"
region="${REGION:-us-central1}"
prefix="${NAME_PREFIX:-obt}"
seed_file=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --project) project="${2:?--project needs a value}"; shift 2 ;;
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    --name-prefix) prefix="${2:?--name-prefix needs a value}"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -*) die "unknown option $1" ;;
    *)
      if [ "$command_name" != seed ] || [ -n "$seed_file" ]; then die "unexpected argument $1"; fi
      seed_file="$1"
      shift
      ;;
  esac
done

command -v terraform >/dev/null || die "terraform is not installed (https://developer.hashicorp.com/terraform/install)"
command -v gcloud >/dev/null || die "the Google Cloud CLI (gcloud) is not installed"
command -v python3 >/dev/null || die "python3 is not installed (Terraform builds the archives with it)"
[ -n "$project" ] || die "no project: pass --project P or set PROJECT"

export TF_VAR_project="$project" TF_VAR_region="$region" TF_VAR_name_prefix="$prefix"
tf() { terraform -chdir="$INFRA" "$@"; }
out() { tf output -raw "$1"; }

attach_dead_letter() {
  local trigger sub number
  trigger="$(out load_obt_trigger)"
  sub="$(gcloud eventarc triggers describe "${trigger##*/}" --project "$project" --location "$region" \
    --format='value(transport.pubsub.subscription)')"
  [ -n "$sub" ] || die "could not find the Pub/Sub subscription of Eventarc trigger $trigger"
  number="$(gcloud projects describe "$project" --format='value(projectNumber)')"
  gcloud pubsub subscriptions update "$sub" --project "$project" \
    --dead-letter-topic "projects/$project/topics/$DLQ_TOPIC" \
    --max-delivery-attempts "$MAX_DELIVERY_ATTEMPTS" --quiet
  # The Pub/Sub service agent must be able to acknowledge what it forwards to the dead-letter topic.
  gcloud pubsub subscriptions add-iam-policy-binding "$sub" --project "$project" \
    --member "serviceAccount:service-${number}@gcp-sa-pubsub.iam.gserviceaccount.com" \
    --role roles/pubsub.subscriber --quiet >/dev/null
  say "dead-letter topic $DLQ_TOPIC attached to $sub (after $MAX_DELIVERY_ATTEMPTS attempts)"
}

deploy() {
  python3 "$ROOT/scripts/archives.py"
  tf init -input=false
  tf apply -input=false "${extra[@]}"
  attach_dead_letter
  say "deployed to project $project, region $region; outputs: terraform -chdir=infra output"
}

seed() {
  [ -n "$seed_file" ] || die "usage: scripts/deploy.sh seed FILE.csv[.gz|.xz] (UCI Online Retail shape, with header)"
  [ -r "$seed_file" ] || die "cannot read $seed_file"
  local bucket instance database user
  bucket="$(out sources_bucket)"
  instance="$(out cloudsql_instance)"
  database="$(out pg_database)"
  user="$(out extract_db_user)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # The table of shared/data/README.md; the extract function may only read it. Re-seeding replaces rows.
  cat >"$tmp/schema.sql" <<SQL
CREATE TABLE IF NOT EXISTS user_purchase (
  invoice_number varchar(10), stock_code varchar(20), detail varchar(1000), quantity int,
  invoice_date timestamp, unit_price numeric(10,3), customer_id int NULL, country varchar(40)
);
TRUNCATE user_purchase;
GRANT SELECT ON user_purchase TO "$user";
SQL
  case "$seed_file" in
    *.gz) gzip -dc "$seed_file" ;;
    *.xz) xz -dc "$seed_file" ;;
    *) cat "$seed_file" ;;
  esac | tail -n +2 >"$tmp/user_purchase.csv"  # Cloud SQL's CSV import has no header option
  gcloud storage cp "$tmp/schema.sql" "$tmp/user_purchase.csv" "gs://$bucket/seed/" --project "$project"
  gcloud sql import sql "$instance" "gs://$bucket/seed/schema.sql" --project "$project" \
    --database "$database" --quiet
  gcloud sql import csv "$instance" "gs://$bucket/seed/user_purchase.csv" --project "$project" \
    --database "$database" --table user_purchase --quiet
  say "seeded $database.user_purchase on $instance from $seed_file"
}

destroy() {
  local bucket
  # Buckets refuse deletion while they hold objects (or old versions); protection flags must be off first.
  for bucket in "$(out raw_bucket)" "$(out curated_bucket)" "$(out sources_bucket)" "$project-$prefix-access-logs"; do
    gcloud storage rm --recursive --all-versions "gs://$bucket/**" --project "$project" --quiet 2>/dev/null || true
  done
  tf apply -input=false -var deletion_protection=false "${extra[@]}"
  tf destroy -input=false -var deletion_protection=false "${extra[@]}"
}

case "$command_name" in
  deploy) deploy ;;
  seed) seed ;;
  destroy) destroy ;;
esac
