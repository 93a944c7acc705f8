#!/usr/bin/env bash
# The image's base, made from Debian's packages with mmdebstrap (no container registry needed):
# Debian 12 (minbase), Python 3.11, tini, libmagic, tesseract with English, Swedish and Dutch.
#   bash deploy/container/base.sh [TAG]      (default localhost/detour-base:bookworm; kept when it exists)
#   FORCE=1 bash deploy/container/base.sh    made again (security updates)
set -euo pipefail
tag=${1:-localhost/detour-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
packages=python3,python3-venv,tini,libmagic1,tesseract-ocr,tesseract-ocr-eng,tesseract-ocr-swe,tesseract-ocr-nld,ca-certificates

# made once per package list: a changed list makes a new base
recipe="$tag-$(printf '%s' "$packages" | sha256sum | cut -c1-12)"
if [ -z "${FORCE:-}" ] && podman image exists "$recipe"; then
  podman tag "$recipe" "$tag"
  echo "detour image: base $tag exists (FORCE=1 makes it again)"
  exit 0
fi
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is missing: sudo apt-get install -y mmdebstrap" >&2; exit 1; }
echo "detour image: making $tag from Debian packages ($packages)"
mmdebstrap --quiet --variant=minbase --include="$packages" \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm - "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main" \
  | podman import --change 'CMD ["/bin/bash"]' - "$recipe"
podman tag "$recipe" "$tag"
