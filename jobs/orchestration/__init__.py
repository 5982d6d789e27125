"""Airflow building blocks citylake's DAG files use (imported at DAG parse: Airflow's SDK only)."""
