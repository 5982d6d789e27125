"""Open-data publishing: PII scanning, downloadable files and the open catalog."""
