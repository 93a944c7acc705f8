#!/usr/bin/env bash
# System packages Detour needs (Debian 12). Idempotent: checks first, installs
# with apt-get only when something is missing and we run as root; otherwise it
# stops with the exact command for an administrator to run.
set -euo pipefail

# name of the Debian package : a command, a shared library or a file that proves it is installed
required=(
  "libmagic1:libmagic.so.1"
  "tesseract-ocr:tesseract"
  "tesseract-ocr-eng:/usr/share/tesseract-ocr/5/tessdata/eng.traineddata"
  "tesseract-ocr-swe:/usr/share/tesseract-ocr/5/tessdata/swe.traineddata"
  "tesseract-ocr-nld:/usr/share/tesseract-ocr/5/tessdata/nld.traineddata"
  "fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"   # tests render PDFs and images
  "squid:/usr/sbin/squid"                # end-to-end tests: uploads through a real proxy with ICAP
  "c-icap:c-icap-client"                 # end-to-end tests: an independent ICAP client
  "chromium:chromium"                    # browser tests (driven by Playwright; no browser download)
  "postgresql:/usr/lib/postgresql/*/bin/postgres"  # the decision store on PostgreSQL (tests start a throwaway server)
  "rsyslog:/usr/sbin/rsyslogd"           # SIEM export tests: a real syslog receiver (UDP, TCP)
  "rsyslog-openssl:/usr/lib/*/rsyslog/lmnsd_ossl.so"  # … and TLS
  "haproxy:/usr/sbin/haproxy"            # the replica topology test: Squid → HAProxy → 3 Detours → PostgreSQL
  "podman:podman"                        # the container test: the image built and run
  "mmdebstrap:mmdebstrap"                # … its base made from Debian packages (no registry)
  "runc:runc"                            # … an OCI runtime that runs where crun can't (hybrid cgroups)
  "nodejs:node"                          # the browser extension's lint (web-ext, from npm)
  "npm:npm"                              # … and its installer
)

missing=()
for entry in "${required[@]}"; do
  pkg=${entry%%:*}
  probe=${entry#*:}
  if [[ $probe == /*\** ]]; then
    compgen -G "$probe" >/dev/null && continue
  elif [[ $probe == /* ]]; then
    [ -e "$probe" ] && continue
  elif [[ $probe == *.so* ]]; then
    ldconfig -p 2>/dev/null | grep -q "$probe" && continue
  else
    command -v "$probe" >/dev/null 2>&1 && continue
  fi
  missing+=("$pkg")
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "detour set-up: installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "detour set-up: missing system packages: ${missing[*]}" >&2
  echo "Install them as an administrator, then run make again:" >&2
  echo "    sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
