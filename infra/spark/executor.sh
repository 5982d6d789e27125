#!/usr/bin/env bash
# Starts one Spark executor in the citylake image.
#
# Spark on Kubernetes creates each executor pod from spark.kubernetes.container.image with the single
# argument `executor` and describes the executor in environment variables (SPARK_DRIVER_URL,
# SPARK_EXECUTOR_ID, ...; the JVM options as SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ...). Images built
# from Spark's own Dockerfiles answer that with their entrypoint; the Airflow image's entrypoint would
# run `airflow executor` instead, so executor-pod-template.yaml sets this script as the command.
#
# The executor runs the same image as the driver (the Airflow task pod) on purpose: PySpark starts
# Python workers on executors (createDataFrame from local rows goes through a Python RDD), and they
# must be the driver's Python minor version with the same packages; the jars are at the same paths.
set -euo pipefail

if [[ "${1:-}" == "executor" ]]; then
  shift
fi

for required in SPARK_DRIVER_URL SPARK_EXECUTOR_ID SPARK_EXECUTOR_CORES SPARK_EXECUTOR_MEMORY \
                SPARK_APPLICATION_ID SPARK_EXECUTOR_POD_IP SPARK_EXECUTOR_POD_NAME; do
  if [[ -z "${!required:-}" ]]; then
    echo "executor.sh: $required is not set; this script only runs in executor pods Spark creates" >&2
    exit 64
  fi
done

# pyspark installed by pip is the Spark distribution of this image: its jars/ holds Spark's class path.
spark_home="${SPARK_HOME:-$(python3 -c 'from pyspark.find_spark_home import _find_spark_home; print(_find_spark_home())')}"

# JVM options in the order Spark numbered them (numbering starts at 0 and has no gaps).
java_opts=()
n=0
while name="SPARK_JAVA_OPT_${n}" && [[ -v "$name" ]]; do
  java_opts+=("${!name}")
  n=$((n + 1))
done

# SPARK_CONF_DIR first (log4j2 properties), then spark.executor.extraClassPath (SPARK_CLASSPATH),
# Spark's own jars, and anything an operator adds with SPARK_EXTRA_CLASSPATH.
class_path="${spark_home}/jars/*"
if [[ -n "${SPARK_CLASSPATH:-}" ]]; then
  class_path="${SPARK_CLASSPATH}:${class_path}"
fi
if [[ -n "${SPARK_CONF_DIR:-}" ]]; then
  class_path="${SPARK_CONF_DIR}:${class_path}"
fi
if [[ -n "${SPARK_EXTRA_CLASSPATH:-}" ]]; then
  class_path="${class_path}:${SPARK_EXTRA_CLASSPATH}"
fi

exec "${JAVA_HOME:?JAVA_HOME is not set}/bin/java" \
  "${java_opts[@]}" \
  "-Xms${SPARK_EXECUTOR_MEMORY}" "-Xmx${SPARK_EXECUTOR_MEMORY}" \
  -cp "$class_path" \
  org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
  --driver-url "$SPARK_DRIVER_URL" \
  --executor-id "$SPARK_EXECUTOR_ID" \
  --cores "$SPARK_EXECUTOR_CORES" \
  --app-id "$SPARK_APPLICATION_ID" \
  --hostname "$SPARK_EXECUTOR_POD_IP" \
  --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
  --podName "$SPARK_EXECUTOR_POD_NAME"
