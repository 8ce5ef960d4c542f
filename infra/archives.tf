# What the sources bucket receives: the four function archives and the Spark job's files. The project's
# packaging script builds them (the same build as scripts/deploy.sh and `make job-package`); it alone knows
# what ships, and answers with each file's path and md5. Objects are named by content: a change redeploys,
# an unchanged archive does not.

data "external" "archives" {
  program = ["python3", "${path.module}/../scripts/archives.py", "--terraform"]
}

resource "google_storage_bucket_object" "fn" {
  for_each = local.functions

  name   = "functions/${each.key}-${data.external.archives.result["function.${each.key}.md5"]}.zip"
  bucket = google_storage_bucket.sources.name
  source = data.external.archives.result["function.${each.key}.path"]
}

# The job's entry point and its --py-files package; content-named too, so a running batch never sees a new version.
resource "google_storage_bucket_object" "job_main" {
  name   = "spark_job/build_obt-${data.external.archives.result["job.main.md5"]}.py"
  bucket = google_storage_bucket.sources.name
  source = data.external.archives.result["job.main.path"]
}

resource "google_storage_bucket_object" "job_package" {
  name   = "spark_job/package-${data.external.archives.result["job.package.md5"]}.zip"
  bucket = google_storage_bucket.sources.name
  source = data.external.archives.result["job.package.path"]
}
