"""The README's first command: a month in production on the deployed stack, incidents
included (`python -m demo`, `make demo`). Runs on local_aws; the report is read back from
what the deployed functions left in S3."""
