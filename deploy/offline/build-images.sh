#!/bin/sh
# Base images from Debian packages alone, for a site where Docker Hub is out of reach (an
# agency's data centre often is): a Debian 12 root file system made by debootstrap from
# the site's mirror, imported as migstat-base/debian:bookworm, then Python 3.11,
# PostgreSQL 15 and nginx on it. The stack then runs as
#   docker compose -f docker-compose.yml -f deploy/offline/compose.yml up
# Needs root, debootstrap and a Docker engine. MIRROR and CA_BUNDLE may be set.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs" "$here/ca-bundle.crt"' EXIT
debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >/dev/null
tar -C "$rootfs" -c . | docker import - migstat-base/debian:bookworm
cp "$CA_BUNDLE" "$here/ca-bundle.crt"
docker build -q -t migstat-base/python:3.11 -f "$here/Dockerfile.python" "$here"
docker build -q -t migstat-base/postgres:15 -f "$here/Dockerfile.postgres" "$here"
docker build -q -t migstat-base/nginx:bookworm -f "$here/Dockerfile.nginx" "$here"
docker images 'migstat-base/*'
