"""infra/ describes exactly what the code expects, with least privilege (checked offline, on parsed HCL)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from obt.config import BUILD_TOPIC, Settings
from tests.infra.packaging import archives
from tests.infra.terraform import INFRA, REPO, Block, Config, tf_files, walk

FUNCTIONS_DIR = REPO / "functions"
CONTRACTS = REPO / "docs" / "contracts.md"
PRIMITIVE = re.compile(r"^roles/(owner|editor|viewer)$")
ENV_NAME = re.compile(r"""["'](OBT_[A-Z0-9_]+)["']""")
# The one file of the repository Terraform knows: the packaging script, which builds and names every archive.
PACKAGING_SCRIPT = "${path.module}/../scripts/archives.py"

# Settings that exist only for the local cloud or tests; production must never set them.
LOCAL_ONLY = {
    "OBT_STATE_DIR": "folder of the local cloud's state",
    "OBT_WAREHOUSE_PATH": "DuckDB file standing in for BigQuery",
    "OBT_DATAPROC_ENDPOINT": "local Dataproc endpoint; unset on GCP so the regional endpoint is used",
    "OBT_PG_HOST": "direct TCP to the local PostgreSQL; GCP goes through the Cloud SQL connector",
    "OBT_PG_PORT": "direct TCP to the local PostgreSQL",
    "OBT_PG_PASSWORD": "local PostgreSQL password; GCP uses IAM database authentication",
    "OBT_PG_PASSWORD_SECRET": "password path not used: GCP uses IAM database authentication",
    "OBT_FAULT": "fault injection in tests",
    "OBT_FAULT_TOKEN": "fault injection in tests",
}


@pytest.fixture(scope="module")
def config() -> Config:
    return Config()


@pytest.fixture(scope="module")
def functions(config: Config) -> tuple[Block, list[str]]:
    blocks = config.resources("google_cloudfunctions2_function")
    assert len(blocks) == 1, "all functions come from one for_each resource"
    return blocks[0], config.for_each_keys(blocks[0])


def bundled_python() -> list[Path]:
    """The code inside the function archives, as the packaging script lists it."""
    return sorted(
        {
            path
            for archive in archives.archives()
            if archive.key.startswith("function.")
            for path in archive.entries.values()
            if path.suffix == ".py"
        }
    )


def env_names_read() -> set[str]:
    names: set[str] = set()
    for path in bundled_python():
        names |= set(ENV_NAME.findall(path.read_text()))
    return names


def test_every_tf_file_parses() -> None:
    files = tf_files()
    assert len(files) >= 5
    config = Config(files)
    assert config.resources(), "no resources parsed"


def test_providers_are_pinned_exactly(config: Config) -> None:
    providers = config.required_providers()
    assert {"google", "google-beta"} <= set(providers)
    for name, spec in providers.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", spec["version"]), f"{name} is not pinned: {spec['version']}"
    assert providers["google"]["version"] == providers["google-beta"]["version"]


def test_project_region_and_prefix_are_variables(config: Config) -> None:
    variables = config.named("variable")
    assert {"project", "region", "name_prefix"} <= set(variables)
    assert variables["region"].get("default")
    assert variables["name_prefix"].get("default")
    assert all(body.get("description") for body in variables.values()), "every variable says what it is"


def test_every_function_points_at_an_existing_entry_point(config: Config, functions) -> None:
    block, names = functions
    build = block.body["build_config"][0]
    assert build["entry_point"] == "${each.key}"
    assert re.fullmatch(r"python3\d+", config.named("variable")["function_runtime"]["default"])
    folders = {p.parent.name for p in FUNCTIONS_DIR.glob("*/main.py")}
    assert set(names) == folders, "every function folder is deployed, and nothing else"
    assert set(archives.function_names()) == folders, "and has its archive"
    for name in names:
        tree = ast.parse((FUNCTIONS_DIR / name / "main.py").read_text())
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert name in defined, f"functions/{name}/main.py has no top-level def {name}"
        assert (FUNCTIONS_DIR / name / "requirements.txt").is_file()


def test_archives_and_their_content_named_objects_come_from_the_packaging_script(config: Config) -> None:
    [source] = [b for b in config.blocks("data") if b.type == "external"]
    assert source.body["program"] == ["python3", PACKAGING_SCRIPT, "--terraform"]
    assert "query" not in source.body and "working_dir" not in source.body, "paths are relative to the root module"
    result = f"data.external.{source.name}.result"
    # Every key Terraform reads is one the script answers.
    fake = {archive.key: archives.Built(Path("x"), "0" * 32) for archive in archives.archives()}
    answered = set(archives.terraform_answer(fake))
    # Object -> the key it reads, and the keys that becomes for its instances.
    objects = {
        "fn": ("function.${each.key}", [f"function.{name}" for name in archives.function_names()]),
        "job_main": ("job.main", ["job.main"]),
        "job_package": ("job.package", ["job.package"]),
    }
    for name, (key, instances) in objects.items():
        body = config.resource("google_storage_bucket_object", name).body
        assert body["source"] == f'${{{result}["{key}.path"]}}', name
        assert f'${{{result}["{key}.md5"]}}' in body["name"], f"{name} is content-named, so a change redeploys"
        assert {f"{k}.{field}" for k in instances for field in ("path", "md5")} <= answered, name
    fn_objects = config.resource("google_storage_bucket_object", "fn")
    assert set(config.for_each_keys(fn_objects)) == set(archives.function_names())
    env = config.locals()["function_env"]
    assert "google_storage_bucket_object.job_main.name" in env["OBT_JOB_MAIN_URI"]
    assert "google_storage_bucket_object.job_package.name" in env["OBT_JOB_PY_FILES"]


def test_infra_names_no_folder_of_the_python_packages() -> None:
    """Terraform reaches the repository through the packaging script alone, so no layout knowledge lives in infra/."""
    roots = {
        init.parent.relative_to(REPO)
        for top in REPO.iterdir()
        if top.is_dir() and not top.name.startswith(".") and top.name != "tests"
        for init in top.glob("**/__init__.py")
        if not (init.parent.parent / "__init__.py").exists()
    }
    assert {Path("obt"), Path("obt_contract"), Path("obt_tools"), Path("spark_jobs/obt_job")} <= roots
    # "obt", the project's name, also prefixes resource names and the curated bucket's build outputs (obt/): a path
    # to the obt folder would need "..", checked below.
    words = {part for root in roots for part in root.parts} - {"obt"}
    for path in tf_files():
        text = path.read_text()
        assert re.findall(r"\$\{path\.\w+\}[^\"\s]*", text) in ([], [PACKAGING_SCRIPT]), path.name
        assert re.findall(r"\.\./[^\"\s]*", text) in ([], ["../scripts/archives.py"]), path.name
        assert not re.search(r"\b(file\w*|templatefile|abspath)\(|archive_file", text), f"{path.name} reads files"
        named = sorted(word for word in words if re.search(rf"\b{re.escape(word)}\b", text))
        assert not named, f"{path.name} names {named}"


def test_event_functions_retry_and_load_obt_is_serialised(config: Config, functions) -> None:
    block, _ = functions
    triggers = {}
    for dynamic in block.body["dynamic"]:
        trigger = dynamic["event_trigger"]
        name = re.search(r'each\.key == "(\w+)"', trigger["for_each"])[1]
        triggers[name] = trigger["content"][0]
    assert set(triggers) == {"on_raw_landed", "load_obt"}
    assert triggers["on_raw_landed"]["event_type"] == "google.cloud.storage.object.v1.finalized"
    assert triggers["on_raw_landed"]["event_filters"][0]["value"] == "${google_storage_bucket.raw.name}"
    assert triggers["load_obt"]["event_type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert triggers["load_obt"]["pubsub_topic"] == "${google_pubsub_topic.build_complete.id}"
    assert all(t["retry_policy"] == "RETRY_POLICY_RETRY" for t in triggers.values())
    specs = config.locals()["function_specs"]
    assert specs["load_obt"]["max_instances"] == 1 and specs["load_obt"]["concurrency"] == 1
    for name, spec in specs.items():
        assert isinstance(spec["timeout"], int) and isinstance(spec["max_instances"], int), name
    for name in triggers:
        assert specs[name]["timeout"] <= 540, f"{name}: event functions time out at 9 minutes"
    service = block.body["service_config"][0]
    assert service["max_instance_count"] == "${local.function_specs[each.key].max_instances}"
    assert service["max_instance_request_concurrency"] == "${local.function_specs[each.key].concurrency}"
    assert service["timeout_seconds"] == "${local.function_specs[each.key].timeout}"
    assert service["ingress_settings"] == "ALLOW_INTERNAL_ONLY"


def test_http_functions_are_scheduled_with_oidc_and_not_public(config: Config) -> None:
    job = config.resource("google_cloud_scheduler_job", "fn")
    assert set(config.for_each_keys(job)) == {"extract_postgres", "reconcile"}
    target = job.body["http_target"][0]
    assert target["oidc_token"][0]["service_account_email"] == "${google_service_account.scheduler[each.key].email}"
    assert "fn[each.key]" in target["uri"]
    for _, value in walk({b.address: b.body for b in config.resources()}):
        assert value not in ("allUsers", "allAuthenticatedUsers"), "no function or bucket is public"


def test_every_setting_the_bundled_code_reads_is_set_for_every_function(config: Config, functions) -> None:
    block, _ = functions
    assert block.body["service_config"][0]["environment_variables"] == "${local.function_env}"
    env = config.locals()["function_env"]
    read = env_names_read()
    config_names = set(ENV_NAME.findall((REPO / "obt" / "config.py").read_text()))
    assert config_names <= read
    missing = read - set(LOCAL_ONLY) - set(env)
    assert not missing, f"read by the code but not set by Terraform: {sorted(missing)}"
    assert not set(env) & set(LOCAL_ONLY), "local-only settings must stay unset on GCP"
    assert not set(env) - read, f"set by Terraform but read by nothing: {sorted(set(env) - read)}"
    assert env["OBT_ENV"] == "gcp"
    assert env["OBT_PG_IAM_AUTH"] == "true" and env["OBT_CLOUDSQL_IP_TYPE"] == "private"


def test_env_references_point_at_resources_that_exist(config: Config) -> None:
    existing = {b.address for b in config.resources()}
    for name, value in config.locals()["function_env"].items():
        for ref in re.findall(r"\b(google_[a-z0-9_]+\.[a-z0-9_]+)\.", str(value)):
            assert ref in existing, f"{name} refers to missing {ref}"


def test_topics_buckets_and_datasets_the_code_names_exist(config: Config) -> None:
    local = config.locals()
    topics = {config.resource("google_pubsub_topic", n).body["name"] for n in ("build_complete", "build_complete_dlq")}
    topics = {local[t.removeprefix("${local.").removesuffix("}")] for t in topics}
    pubsub = CONTRACTS.read_text().split("## Pub/Sub resources", 1)[1].split("##", 1)[0]
    production = [line for line in pubsub.splitlines() if line.startswith("- ") and "locally only" not in line]
    named = {n for line in production for n in re.findall(r"`([a-z0-9-]+)`", line)}
    assert BUILD_TOPIC in topics
    assert named - {local["dlq_sub"]} <= topics, f"topics in contracts.md missing: {named - topics}"
    sub = config.resource("google_pubsub_subscription", "build_complete_dlq")
    assert sub.body["topic"] == "${google_pubsub_topic.build_complete_dlq.id}"
    assert local[sub.body["name"].removeprefix("${local.").removesuffix("}")] in named
    env = local["function_env"]
    assert env["OBT_RAW_BUCKET"] == "${google_storage_bucket.raw.name}"
    assert env["OBT_CURATED_BUCKET"] == "${google_storage_bucket.curated.name}"
    assert env["OBT_BUILD_TOPIC"] == "${google_pubsub_topic.build_complete.name}"
    defaults = Settings()
    datasets = {b.name: b.body["dataset_id"] for b in config.resources("google_bigquery_dataset")}
    resolved = {local[v.removeprefix("${local.").removesuffix("}")] for v in datasets.values()}
    assert {defaults.obt_dataset, defaults.staging_dataset, defaults.ops_dataset} == resolved
    assert local["obt_table"] == defaults.obt_table
    staging = config.resource("google_bigquery_dataset", "staging")
    assert "default_table_expiration_ms" in staging.body


def test_the_tagger_model_is_a_variable_in_the_sources_bucket_the_batches_read(config: Config) -> None:
    """deploy.sh uploads the model to gs://SOURCES/tagger/<model_version>/ and passes that URI as the variable."""
    variable = config.named("variable")["tagger_model_uri"]
    assert variable["default"] == "", "no model, no tagging"
    assert "var.tagger_model_uri ==" in variable["validation"][0]["condition"]
    assert config.locals()["function_env"]["OBT_TAGGER_MODEL_URI"] == "${var.tagger_model_uri}"
    # on_raw_landed plans with it; every function gets the same map.
    functions = config.resource("google_cloudfunctions2_function", "fn").body
    assert functions["service_config"][0]["environment_variables"] == "${local.function_env}"
    reads = config.resource("google_storage_bucket_iam_member", "dataproc_read").body
    assert reads["for_each"]["sources"] == "${google_storage_bucket.sources.name}"
    assert reads["role"] == "roles/storage.objectViewer"
    assert reads["member"] == "serviceAccount:${google_service_account.dataproc.email}"
    local = config.locals()
    assert local["bucket_prefix"] == "${var.project}-${var.name_prefix}"
    assert local["sources_bucket"] == "${local.bucket_prefix}-sources"
    assert 'sources_bucket="$project-$prefix-sources"' in (REPO / "scripts" / "deploy.sh").read_text()


def test_buckets_are_private_uniform_and_raw_is_versioned(config: Config) -> None:
    buckets = {b.name: b.body for b in config.resources("google_storage_bucket")}
    assert {"raw", "curated", "sources"} <= set(buckets)
    for name, body in buckets.items():
        assert body["uniform_bucket_level_access"] is True, name
        assert body["public_access_prevention"] == "enforced", name
    assert buckets["raw"]["versioning"][0]["enabled"] is True
    prefixes = {
        p for rule in buckets["curated"]["lifecycle_rule"] for p in rule["condition"][0].get("matches_prefix", [])
    }
    assert {"quarantine/", "obt/"} <= prefixes


def test_cloud_sql_is_private_with_iam_auth_and_an_iam_user(config: Config) -> None:
    instance = config.resource("google_sql_database_instance", "source").body
    settings = instance["settings"][0]
    assert settings["ip_configuration"][0]["ipv4_enabled"] is False
    flags = {f["name"]: f["value"] for f in settings["database_flags"]}
    assert flags["cloudsql.iam_authentication"] == "on"
    user = config.resource("google_sql_user", "extract").body
    assert user["type"] == "CLOUD_IAM_SERVICE_ACCOUNT"
    assert "password" not in user
    assert 'google_service_account.fn["extract_postgres"]' in config.locals()["extract_db_user"]


def _roles(config: Config) -> list[tuple[str, str, str]]:
    found = []
    for block in config.resources():
        if "role" in block.body:
            found.append((block.address, str(block.body["role"]), str(block.body.get("member", ""))))
        for_each = str(block.body.get("for_each", ""))
        if for_each.startswith("${toset([") and "roles/" in for_each:
            for role in re.findall(r'"(roles/[^"]+)"', for_each):
                found.append((block.address, role, str(block.body.get("member", ""))))
    return found


def test_no_primitive_role_anywhere(config: Config) -> None:
    roles = _roles(config)
    assert roles
    assert not [r for r in roles if PRIMITIVE.match(r[1])]
    for path in tf_files():
        assert not re.search(r'"roles/(owner|editor|viewer)"', path.read_text()), path.name


def test_iam_is_additive_and_project_level_only_where_unavoidable(config: Config) -> None:
    authoritative = [b.address for b in config.resources() if b.type.endswith(("_iam_binding", "_iam_policy"))]
    assert not authoritative, f"authoritative IAM would remove others' grants: {authoritative}"
    allowed_project_roles = {
        "roles/cloudsql.client": 'fn["extract_postgres"]',
        "roles/cloudsql.instanceUser": 'fn["extract_postgres"]',
        "roles/dataproc.editor": 'fn["on_raw_landed"]',
        "roles/dataproc.viewer": 'fn["reconcile"]',
        # load_obt runs loads and MERGEs; reconcile reads the load ledger.
        "roles/bigquery.jobUser": ('fn["load_obt"]', 'fn["reconcile"]'),
        "roles/dataproc.worker": "google_service_account.dataproc.",
        "roles/eventarc.eventReceiver": "each.value.email",
        "roles/pubsub.publisher": "google_storage_project_service_account.gcs",
        "roles/logging.logWriter": "google_service_account.build[each.key]",
        "roles/artifactregistry.writer": "google_service_account.build[each.key]",
    }
    for block in config.resources("google_project_iam_member"):
        role, member = block.body["role"], block.body["member"]
        assert role in allowed_project_roles, f"{block.address}: {role} should be granted on a resource"
        allowed = allowed_project_roles[role]
        allowed = (allowed,) if isinstance(allowed, str) else allowed
        assert any(who in member for who in allowed), f"{block.address}: {role} granted to {member}"
    for block in config.resources("google_project_iam_member"):
        if block.body["role"].startswith("roles/cloudsql."):
            assert "condition" in block.body, f"{block.address} must be limited to the instance"
    acts_as = [r for r in _roles(config) if r[1] == "roles/iam.serviceAccountUser"]
    assert [a for a, _, _ in acts_as] == ["google_service_account_iam_member.landed_acts_as_dataproc"]
    member = config.resource("google_service_account_iam_member", "landed_acts_as_dataproc").body
    assert member["service_account_id"] == "${google_service_account.dataproc.name}"


def test_no_service_account_is_shared_between_functions(config: Config, functions) -> None:
    block, names = functions
    fn_accounts = config.resource("google_service_account", "fn")
    assert config.for_each_keys(fn_accounts) == names or set(config.for_each_keys(fn_accounts)) == set(names)
    assert block.body["service_config"][0]["service_account_email"] == "${google_service_account.fn[each.key].email}"
    ids = fn_accounts.body["account_id"]
    assert "each.key" in ids, "one account per function"
    short = config.locals()["sa_ids"]
    assert set(short) == set(names) and len(set(short.values())) == len(short)
    build = block.body["build_config"][0]["service_account"]
    assert build == "${google_service_account.build[each.key].id}", "each function builds as its own identity"
    identities = [b for b in config.resources("google_service_account")]
    account_ids = [b.body["account_id"] for b in identities]
    assert len(account_ids) == len(set(account_ids))
    # Trigger and scheduler identities are separate from the runtime ones and keyed per function.
    for block_ in identities:
        if block_.name != "dataproc":
            assert "each.key" in block_.body["account_id"], block_.address


def test_secrets_come_only_from_secret_manager(config: Config) -> None:
    env = config.locals()["function_env"]
    for name, value in env.items():
        assert not re.search(r"PASSWORD|SECRET|TOKEN|PRIVATE|_KEY$", name) or not value, name
    for block in config.resources():
        for path, value in walk(block.body):
            leaf = path.rsplit(".", 1)[-1]
            assert leaf not in ("password", "private_key", "secret_data"), f"{block.address}.{path} in code"
            if "secret_environment_variables" in path and leaf == "secret":
                assert "google_secret_manager_secret" in str(value), f"{block.address}: {value}"


def test_checkov_skips_are_justified_inline() -> None:
    for path in tf_files():
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                assert re.fullmatch(r"\s*#checkov:skip=CKV2?_GCP_\d+:.{20,}", line), f"{path.name}: {line.strip()}"


def test_checkov_requirements_are_pinned() -> None:
    lines = [
        line
        for line in (INFRA / "checkov-requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert any(line.startswith("checkov==") for line in lines)
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^\s=]+", line) for line in lines), "every line pinned with =="


def test_readme_tables_match_variables_and_outputs(config: Config) -> None:
    readme = (INFRA / "README.md").read_text()

    def table(title: str) -> set[str]:
        section = readme.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
        return {m for m in re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M)}

    assert table("Variables") == set(config.named("variable"))
    assert table("Outputs") == set(config.named("output"))
    outputs = set(config.named("output"))
    used = set(re.findall(r"terraform output (?:-raw |-json )?([a-z_]+)", readme))
    assert used <= outputs, f"README uses missing outputs: {used - outputs}"
    script = (REPO / "scripts" / "deploy.sh").read_text()
    assert set(re.findall(r"\bout ([a-z_]+)\)", script)) <= outputs
    assert set(re.findall(r"TF_VAR_([a-z_]+)=", script)) <= set(config.named("variable"))
    assert set(re.findall(r"TF_VAR_([a-z_]+)", readme)) <= set(config.named("variable"))
    assert set(re.findall(r"-var ([a-z_]+)=", script)) <= set(config.named("variable"))


def test_account_ids_fit_the_30_character_limit_for_the_longest_prefix(config: Config) -> None:
    validation = config.named("variable")["name_prefix"]["validation"][0]["condition"]
    longest = int(re.search(r"\{1,(\d+)\}", validation)[1]) + 1
    short = max(config.locals()["sa_ids"].values(), key=len)
    for block in config.resources("google_service_account"):
        account_id = block.body["account_id"].replace("${local.prefix}", "p" * longest)
        account_id = account_id.replace("${local.sa_ids[each.key]}", short)
        assert "${" not in account_id, f"{block.address}: unexpected expression in {account_id}"
        assert 6 <= len(account_id) <= 30, f"{block.address}: {account_id!r} is {len(account_id)} characters"
