#!/usr/bin/env bash
# Builds deploy/Dockerfile and checks the image: it runs as uid 10001, `--version` works with
# only the runtime packages (no missing shared library), and the configured HEALTHCHECK probes
# /healthz. Needs a working Docker engine; exit 77 (skipped) when `docker info` fails, which is
# the case on the development machines, where tests/deploy/dockerfile_test.py lints instead.
#
# Usage: docker_build_test.sh SOURCE_DIR
set -euo pipefail

source_dir=${1:?usage: docker_build_test.sh SOURCE_DIR}
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "SKIP: no working Docker engine (docker info failed); the Dockerfile is linted instead"
  exit 77
fi

tag="vmray-connector-test:$$"
trap 'docker image rm -f "$tag" >/dev/null 2>&1 || true' EXIT
docker build --file "$source_dir/deploy/Dockerfile" --tag "$tag" "$source_dir"

failures=0
user=$(docker image inspect --format '{{.Config.User}}' "$tag")
if [ "$user" != "10001:10001" ]; then echo "FAIL: image user is '$user'"; failures=$((failures + 1)); fi
health=$(docker image inspect --format '{{json .Config.Healthcheck.Test}}' "$tag")
if ! grep -q '/healthz' <<<"$health"; then echo "FAIL: health check is $health"; failures=$((failures + 1)); fi
# --network none: the check must not need the network, and the connector must start its CLI
# with only the libraries the runtime stage installed.
if ! version=$(docker run --rm --network none --read-only "$tag" --version 2>&1); then
  echo "FAIL: vmray-connector --version in the image failed: $version"
  failures=$((failures + 1))
elif ! grep -q "vmray-connector" <<<"$version"; then
  echo "FAIL: unexpected --version output: $version"
  failures=$((failures + 1))
fi
if ((failures)); then exit 1; fi
echo "ok: image builds, runs as 10001:10001, starts, and probes /healthz"
