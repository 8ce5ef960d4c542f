"""scripts/deploy.sh against stand-in terraform, gcloud, python3 and obt binaries that record what they were asked
(the packaging script it runs is tested on its own in test_packaging.py)."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.infra.packaging import SCRIPT as PACKAGING
from tests.infra.terraform import REPO

SCRIPT = REPO / "scripts" / "deploy.sh"

OUTPUTS = {
    "load_obt_trigger": "projects/p1/locations/europe-west1/triggers/obt-load-obt-123",
    "sources_bucket": "p1-obt-sources",
    "raw_bucket": "p1-obt-raw",
    "curated_bucket": "p1-obt-curated",
    "cloudsql_instance": "obt-postgres",
    "pg_database": "retail",
    "extract_db_user": "obt-run-extract@p1.iam",
}

VERSION = "0123456789abcdef"
MODEL_URI = f"gs://{OUTPUTS['sources_bucket']}/tagger/{VERSION}/"

# Each stand-in logs its command line; `terraform apply` also the tagger URI it was given. Of buckets and objects,
# only those listed in $STUB_EXISTING exist. `obt tagger train` writes a model folder with its card.
STUB = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$STUB_LOG"
case "$(basename "$0") $*" in
  *" apply "*) echo "${TF_VAR_tagger_model_uri-unset}" >> "$STUB_LOG.tagger" ;;
esac
case "$(basename "$0") $*" in
  *"output -raw "*) name="${@: -1}"; cat "$STUB_OUTPUTS/$name" ;;
  "gcloud storage buckets describe"* | "gcloud storage objects describe"*) grep -qxF "$4" "$STUB_EXISTING" ;;
  "obt tagger train"*) mkdir -p "$6/metadata"; printf '{\n  "model_version": "%s"\n}\n' "$STUB_VERSION" \\
    > "$6/model_card.json" ;;
  "gcloud eventarc triggers describe"*) echo "projects/p1/subscriptions/eventarc-sub" ;;
  "gcloud projects describe"*) echo "123456" ;;
  "gcloud storage cp"*) args=("$@"); n=${#args[@]}; for ((i = 2; i < n; i++)); do
      case "${args[i]}" in gs://*|--project) break ;; esac; cp "${args[i]}" "$STUB_UPLOADS/"; done ;;
esac
"""


@pytest.fixture()
def stubs(tmp_path: Path) -> dict[str, str]:
    bin_dir, outputs, uploads = tmp_path / "bin", tmp_path / "outputs", tmp_path / "uploads"
    for folder in (bin_dir, outputs, uploads):
        folder.mkdir()
    for tool in ("terraform", "gcloud", "python3", "obt"):
        path = bin_dir / tool
        path.write_text(STUB)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    for name, value in OUTPUTS.items():
        (outputs / name).write_text(value)
    existing = tmp_path / "existing"
    existing.write_text(f"gs://{OUTPUTS['sources_bucket']}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PROJECT", "GOOGLE_CLOUD_PROJECT", "REGION", "OBT_CLI")}
    env.update(
        PATH=f"{bin_dir}:{env['PATH']}",
        STUB_LOG=str(tmp_path / "log"),
        STUB_OUTPUTS=str(outputs),
        STUB_UPLOADS=str(uploads),
        STUB_EXISTING=str(existing),
        STUB_VERSION=VERSION,
        OBT_CLI=str(bin_dir / "obt"),
    )
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def calls(env: dict[str, str]) -> list[str]:
    log = Path(env["STUB_LOG"])
    return log.read_text().splitlines() if log.exists() else []


def applied_tagger_uris(env: dict[str, str]) -> list[str]:
    """The ``TF_VAR_tagger_model_uri`` of each ``terraform apply``."""
    return Path(env["STUB_LOG"] + ".tagger").read_text().splitlines()


def saved_model(folder: Path, version: str = VERSION) -> Path:
    (folder / "metadata").mkdir(parents=True)
    (folder / "model_card.json").write_text(json.dumps({"model_version": version, "spark_version": "4"}))
    return folder


def test_deploy_applies_then_attaches_the_dead_letter_topic(stubs: dict[str, str]) -> None:
    result = run(stubs, "deploy", "--project", "p1", "--region", "europe-west1", "--no-tagger", "--", "-auto-approve")
    assert result.returncode == 0, result.stderr
    log = calls(stubs)
    # The archives first, with the script Terraform runs too: a packaging error stops the deploy before Terraform.
    assert log[0] == f"python3 {PACKAGING}"
    assert log[1].startswith("terraform -chdir=") and log[1].endswith("infra init -input=false")
    assert log[2].endswith("infra apply -input=false -auto-approve")
    describe = next(c for c in log if c.startswith("gcloud eventarc triggers describe"))
    assert "describe obt-load-obt-123 " in describe and "--location europe-west1" in describe
    update = next(c for c in log if c.startswith("gcloud pubsub subscriptions update"))
    assert "projects/p1/subscriptions/eventarc-sub" in update
    assert "--dead-letter-topic projects/p1/topics/obt-build-complete-dlq" in update
    binding = next(c for c in log if "add-iam-policy-binding" in c)
    assert "service-123456@gcp-sa-pubsub.iam.gserviceaccount.com" in binding
    assert applied_tagger_uris(stubs) == [""], "--no-tagger: no tagging"
    assert not [c for c in log if c.startswith(("obt ", "gcloud storage rsync", "gcloud storage cp"))]


def test_deploy_trains_the_tagger_uploads_it_card_last_before_the_apply_and_sets_its_uri(
    stubs: dict[str, str], tmp_path: Path
) -> None:
    labels = tmp_path / "labels.csv.gz"
    labels.write_bytes(gzip.compress(b"review,sentiment\nA fine film.,positive\n"))
    result = run(stubs, "deploy", "--project", "p1", "--tagger-labels", str(labels))
    assert result.returncode == 0, result.stderr
    log = calls(stubs)
    [train] = [c for c in log if c.startswith("obt ")]
    assert train.startswith(f"obt tagger train --labels {labels} --out ")
    folder = train.split("--out ", 1)[1]
    target = MODEL_URI.rstrip("/")
    steps = [c for c in log if c.startswith(("gcloud storage", "terraform")) and "output" not in c]
    assert [c.split(" --project")[0] for c in steps[2:5]] == [
        f"gcloud storage objects describe {target}/model_card.json",
        f"gcloud storage rsync {folder} {target} --recursive --exclude (^|.*/)\\.[^/]*$|^model_card\\.json$",
        f"gcloud storage cp {folder}/model_card.json {target}/model_card.json",
    ]
    assert steps[5].endswith("infra apply -input=false"), "the model is there before any build can name it"
    assert applied_tagger_uris(stubs) == [MODEL_URI]
    assert f"review tagger: {MODEL_URI}" in result.stderr
    assert not Path(folder).exists(), "the trained model's temporary folder is removed"


def test_a_model_version_already_uploaded_is_not_uploaded_again(stubs: dict[str, str], tmp_path: Path) -> None:
    with Path(stubs["STUB_EXISTING"]).open("a") as existing:
        existing.write(f"{MODEL_URI}model_card.json\n")
    result = run(stubs, "deploy", "--project", "p1", "--tagger-model", str(saved_model(tmp_path / "model")))
    assert result.returncode == 0, result.stderr
    log = calls(stubs)
    assert not [c for c in log if c.startswith(("obt ", "gcloud storage rsync", "gcloud storage cp"))]
    assert applied_tagger_uris(stubs) == [MODEL_URI]


def test_on_a_first_deploy_the_model_is_uploaded_once_the_apply_made_its_bucket(
    stubs: dict[str, str], tmp_path: Path
) -> None:
    Path(stubs["STUB_EXISTING"]).write_text("")
    result = run(stubs, "deploy", "--project", "p1", "--tagger-model", str(saved_model(tmp_path / "model")))
    assert result.returncode == 0, result.stderr
    log = calls(stubs)
    apply = next(i for i, c in enumerate(log) if c.endswith("infra apply -input=false"))
    upload = next(i for i, c in enumerate(log) if c.startswith("gcloud storage rsync"))
    card = next(i for i, c in enumerate(log) if c.startswith("gcloud storage cp") and "model_card.json" in c)
    assert apply < upload < card
    assert applied_tagger_uris(stubs) == [MODEL_URI]


def test_seed_creates_the_table_grants_the_extract_user_and_imports_without_header(
    stubs: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "user_purchase.csv.gz"
    rows = (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,X,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
    )
    source.write_bytes(gzip.compress(rows.encode()))
    result = run(stubs, "seed", str(source), "--project", "p1")
    assert result.returncode == 0, result.stderr
    uploads = Path(stubs["STUB_UPLOADS"])
    schema = (uploads / "schema.sql").read_text()
    assert "CREATE TABLE IF NOT EXISTS user_purchase" in schema
    assert f'GRANT SELECT ON user_purchase TO "{OUTPUTS["extract_db_user"]}"' in schema
    assert (uploads / "user_purchase.csv").read_text() == rows.split("\n", 1)[1]
    log = calls(stubs)
    sql_import = [c for c in log if c.startswith("gcloud sql import")]
    assert sql_import[0].startswith("gcloud sql import sql obt-postgres gs://p1-obt-sources/seed/schema.sql")
    assert sql_import[1].startswith("gcloud sql import csv obt-postgres gs://p1-obt-sources/seed/user_purchase.csv")
    assert "--table user_purchase" in sql_import[1] and "--database retail" in sql_import[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "usage"),
        (("launch",), "usage"),
        (("deploy",), "no project"),
        (("deploy", "--project", "p1", "--colour", "red"), "unknown option --colour"),
        (("seed", "--project", "p1"), "usage: scripts/deploy.sh seed"),
        (("seed", "/nonexistent.csv", "--project", "p1"), "cannot read /nonexistent.csv"),
        (("deploy", "--project", "p1", "--no-tagger", "--tagger-model", "m"), "exclude each other"),
        (("seed", "x.csv", "--project", "p1", "--no-tagger"), "go with deploy only"),
        (("deploy", "--project", "p1", "--tagger-labels", "/nonexistent.csv"), "cannot read --tagger-labels"),
        (("deploy", "--project", "p1", "--tagger-model", "/nonexistent"), "is not a saved tagger model"),
    ],
)
def test_bad_use_is_one_clear_line(stubs: dict[str, str], args: tuple[str, ...], message: str) -> None:
    result = run(stubs, *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not [c for c in calls(stubs) if "apply" in c or "import" in c]


def test_missing_terraform_is_named(stubs: dict[str, str], tmp_path: Path) -> None:
    (Path(stubs["PATH"].split(":", 1)[0]) / "terraform").unlink()
    env = {**stubs, "PATH": stubs["PATH"].split(":", 1)[0] + ":/usr/bin:/bin"}
    if any(Path(d, "terraform").exists() for d in ("/usr/bin", "/bin")):
        pytest.skip("a real terraform is on the minimal PATH")
    result = run(env, "deploy", "--project", "p1")
    assert result.returncode == 2 and "terraform is not installed" in result.stderr


def test_destroy_empties_the_buckets_then_lifts_protection_then_destroys(stubs: dict[str, str]) -> None:
    result = run(stubs, "destroy", "--project", "p1")
    assert result.returncode == 0, result.stderr
    log = calls(stubs)
    emptied = [w for c in log if c.startswith("gcloud storage rm") for w in c.split() if w.startswith("gs://")]
    assert emptied == [f"gs://{OUTPUTS[b]}/**" for b in ("raw_bucket", "curated_bucket", "sources_bucket")] + [
        "gs://p1-obt-access-logs/**"
    ]
    terraform = [c.split(" ", 2)[2] for c in log if c.startswith("terraform") and "output" not in c]
    assert terraform == [
        "apply -input=false -var deletion_protection=false",
        "destroy -input=false -var deletion_protection=false",
    ]
