#!/usr/bin/env bash
# Deploy the pipeline to Google Cloud with Terraform (infra/), and the few steps Terraform cannot do.
#
#   scripts/deploy.sh deploy  [--project P] [--region R] [--name-prefix N]
#                             [--tagger-labels FILE | --tagger-model DIR | --no-tagger] [-- extra terraform args]
#   scripts/deploy.sh seed    FILE.csv[.gz|.xz] [--project P] ...   load user_purchase into Cloud SQL
#   scripts/deploy.sh destroy [--project P] ...                      empty the buckets, then tear down
#
# The project also comes from $PROJECT or $GOOGLE_CLOUD_PROJECT. `deploy` builds the function archives and
# the Spark job's package with scripts/archives.py, the build Terraform itself runs (infra/archives.tf), so a
# packaging error stops the deploy before Terraform starts; then `terraform apply` uploads them (content-named
# objects in the sources bucket) and deploys, and the script attaches the dead-letter topic to load_obt's
# Eventarc-managed subscription, which the Terraform provider cannot configure. Every step is safe to repeat.
#
# The review tagger: `deploy` trains it (`obt tagger train`, with the venv's obt or $OBT_CLI) on --tagger-labels,
# by default ../shared/data/imdb_reviews_labeled.csv.gz when that exists, or takes the trained folder
# --tagger-model DIR; uploads it to gs://SOURCES/tagger/<model_version>/ and passes that URI to Terraform
# (tagger_model_uri, OBT_TAGGER_MODEL_URI of the functions). Without labels, or with --no-tagger, the deployment
# does not tag (tagger_model_uri empty). A version is uploaded once, its model_card.json last, so a folder with a
# card is a complete model and never changes under a running batch; the upload comes before `terraform apply`
# whenever the bucket exists, so no build planned with the new URI can start before its model is there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INFRA="$ROOT/infra"
DLQ_TOPIC="obt-build-complete-dlq"
MAX_DELIVERY_ATTEMPTS=10
DEFAULT_TAGGER_LABELS="$ROOT/../shared/data/imdb_reviews_labeled.csv.gz"
OBT_CLI="${OBT_CLI:-$ROOT/.venv/bin/obt}"

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
tagger_labels=""
tagger_model=""
no_tagger=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --project) project="${2:?--project needs a value}"; shift 2 ;;
    --region) region="${2:?--region needs a value}"; shift 2 ;;
    --name-prefix) prefix="${2:?--name-prefix needs a value}"; shift 2 ;;
    --tagger-labels) tagger_labels="${2:?--tagger-labels needs a value}"; shift 2 ;;
    --tagger-model) tagger_model="${2:?--tagger-model needs a value}"; shift 2 ;;
    --no-tagger) no_tagger=1; shift ;;
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
if [ -n "$tagger_labels$tagger_model$no_tagger" ]; then
  [ "$command_name" = deploy ] || die "--tagger-labels, --tagger-model and --no-tagger go with deploy only"
  [ "${tagger_labels:+1}${tagger_model:+1}$no_tagger" = 1 ] \
    || die "--tagger-labels, --tagger-model and --no-tagger exclude each other"
fi
# infra/main.tf local.sources_bucket (tests/infra/test_terraform.py checks the two agree).
sources_bucket="$project-$prefix-sources"

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

# The local folder of the model to deploy (trained now unless --tagger-model), or nothing: no tagging.
tagger_folder() {
  if [ -n "$no_tagger" ]; then
    return
  elif [ -n "$tagger_model" ]; then
    [ -f "$tagger_model/model_card.json" ] && [ -d "$tagger_model/metadata" ] \
      || die "--tagger-model $tagger_model is not a saved tagger model (no model_card.json and metadata/)"
    echo "$tagger_model"
    return
  elif [ -z "$tagger_labels" ]; then
    if [ ! -f "$DEFAULT_TAGGER_LABELS" ]; then
      say "no labelled reviews at $DEFAULT_TAGGER_LABELS: deploying without the review tagger" \
        "(predicted_positive and sentiment_score stay NULL; --tagger-labels FILE or --tagger-model DIR to add it)"
      return
    fi
    tagger_labels="$DEFAULT_TAGGER_LABELS"
  fi
  [ -r "$tagger_labels" ] || die "cannot read --tagger-labels $tagger_labels"
  [ -x "$OBT_CLI" ] || die "training the review tagger needs $OBT_CLI (make creates .venv); or pass --tagger-model DIR"
  say "training the review tagger on $tagger_labels"
  "$OBT_CLI" tagger train --labels "$tagger_labels" --out "$work/tagger-model" >&2 \
    || die "training the review tagger failed (its error is above)"
  echo "$work/tagger-model"
}

upload_tagger() {
  local folder="$1" target="$2"
  if gcloud storage objects describe "$target/model_card.json" --project "$project" >/dev/null 2>&1; then
    say "tagger model already at $target/ (a version is uploaded once)"
    return
  fi
  # Everything but Hadoop's hidden checksum files and the card, then the card: the model is complete once it is.
  gcloud storage rsync "$folder" "$target" --recursive --exclude '(^|.*/)\.[^/]*$|^model_card\.json$' \
    --project "$project" --quiet
  gcloud storage cp "$folder/model_card.json" "$target/model_card.json" --project "$project" --quiet
  say "tagger model uploaded to $target/"
}

deploy() {
  local folder version target="" uploaded=""
  python3 "$ROOT/scripts/archives.py"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  folder="$(tagger_folder)"
  if [ -n "$folder" ]; then
    version="$(grep -o -m 1 '"model_version": *"[^"]*"' "$folder/model_card.json" | cut -d '"' -f 4 || true)"
    [ -n "$version" ] || die "$folder/model_card.json names no model_version"
    target="gs://$sources_bucket/tagger/$version"
  fi
  export TF_VAR_tagger_model_uri="${target:+$target/}"
  tf init -input=false
  # A first deploy creates the bucket in the apply; no raw input, so no build, can exist before it ends.
  if [ -n "$target" ] && gcloud storage buckets describe "gs://$sources_bucket" --project "$project" >/dev/null 2>&1; then
    upload_tagger "$folder" "$target"
    uploaded=1
  fi
  tf apply -input=false "${extra[@]}"
  if [ -n "$target" ] && [ -z "$uploaded" ]; then
    upload_tagger "$folder" "$target"
  fi
  attach_dead_letter
  say "review tagger: ${TF_VAR_tagger_model_uri:-off}"
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
