#!/usr/bin/env bash
# Prints the path of an Alertmanager binary, installing Debian's
# prometheus-alertmanager with the system package manager when neither
# prometheus-alertmanager nor alertmanager is on PATH. The slaalerts tests
# start private Alertmanagers of their own from it; nothing is started here.
set -euo pipefail

find_binary() {
  command -v prometheus-alertmanager 2>/dev/null || command -v alertmanager 2>/dev/null
}

install_alertmanager() {
  echo "ensure-alertmanager: alertmanager not found; installing it" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    # Debian's package also enables a system service on :9093; the tests
    # do not use it (they start their own on free ports) and do not mind it.
    # env, not a plain assignment: sudo would drop it from the environment.
    $sudo apt-get update -qq >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >&2
  elif command -v apk >/dev/null 2>&1; then
    $sudo apk add alertmanager >&2
  elif command -v brew >/dev/null 2>&1; then
    brew install alertmanager >&2
  else
    echo "ensure-alertmanager: no apt-get, apk or brew here; install alertmanager on PATH (https://prometheus.io/download/#alertmanager)" >&2
    exit 1
  fi
}

if ! bin=$(find_binary); then
  install_alertmanager
  if ! bin=$(find_binary); then
    echo "ensure-alertmanager: installed, but neither prometheus-alertmanager nor alertmanager is on PATH" >&2
    exit 1
  fi
fi
echo "$bin"
