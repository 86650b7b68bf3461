#!/usr/bin/env bash
# Goal: the Containerfile builds an image whose server works: it runs as a non-root user with
# a read-only root file system, reads its secrets from files, answers a buyer and an operator
# through the published port (tests/deploy/smoke.mjs: /readyz, reserve, checkout, the order
# PAID), stops with exit code 0 on SIGTERM, and keeps its data on the volume across a
# restart; the runtime image carries no compiler.
# Offline: no image registry is reachable, so the Debian 12 base is made with debootstrap
# and imported under a local name (DEBIAN_IMAGE). podman builds with --isolation chroot and
# runs with runc.
# Caches (so a repeated run rebuilds little): the base tarball in
# ${FLASHSALE_CACHE_DIR:-~/.cache/flashsale} (one per ISO week, so the base picks up Debian's
# security updates weekly), podman's layer cache (the build stage's packages), and ccache in
# the build stage's cache mount (the compile).
# Usage: tests/deploy/image_test.sh   (CTest: container_image, label deploy; root, Debian 12)
#
# -e: any failed step fails the test; -u: a misspelt variable is an error; pipefail: a failed
# command in a pipeline (tar | podman import) is not hidden by the command after it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${FLASHSALE_CACHE_DIR:-$HOME/.cache/flashsale}"
image=localhost/flashsale:ci
name="flashsale-image-test-$$"
step() { echo "== image_test: $* ($(date -u +%H:%M:%S))"; }

step "container tools (scripts/container-packages.txt)"
bash "$root/scripts/install-deps.sh" "$root/scripts/container-packages.txt"
# runc: the OCI runtime that works here. The ulimits: podman asks for more open files and
# processes than the hard limits of this machine allow (20000 open files), and runc then
# refuses to start the container ("error setting rlimits").
podman=(podman --runtime runc)
limits=(--ulimit nofile=10000:10000 --ulimit nproc=1000:1000)

step "the build stage's packages are the project's (scripts/debian-packages.txt)"
# The apt-get install lines of the build stage: from "AS build" to the next FROM.
mapfile -t build_packages < <(sed -n '/^FROM .* AS build$/,/^FROM /p' "$root/Containerfile" |
  sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' |
  grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vxE 'apt-get|install|rm|-rf|&&')
[[ ${#build_packages[@]} -gt 5 ]] || { echo "image_test: no build packages found" >&2; exit 1; }
for package in "${build_packages[@]}"; do
  if ! grep -qx "$package" "$root/scripts/debian-packages.txt"; then
    echo "image_test: Containerfile installs $package, not in scripts/debian-packages.txt" >&2
    exit 1
  fi
done
echo "${#build_packages[@]} build packages, all in scripts/debian-packages.txt"

work=$(mktemp -d)
cleanup() {
  "${podman[@]}" rm --force --ignore "$name" >/dev/null 2>&1 || true
  "${podman[@]}" volume rm --force "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step "Debian 12 base image"
week=$(date -u +%G-w%V)
base_image="localhost/flashsale-debian:bookworm-$week"
base_tar="$cache/debian-bookworm-minbase-$week.tar"
if ! "${podman[@]}" image exists "$base_image"; then
  if [[ ! -f "$base_tar" ]]; then
    mkdir -p "$cache"
    debootstrap --variant=minbase bookworm "$work/rootfs" >"$work/debootstrap.log" 2>&1 ||
      { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
    # debootstrap writes the release only; add its updates and security suites, on the same
    # mirror, so the image's apt-get installs take the current packages.
    mirror=$(awk '$1 == "deb" { print $2; exit }' "$work/rootfs/etc/apt/sources.list")
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
      "$mirror" "$mirror" "$mirror" >"$work/rootfs/etc/apt/sources.list"
    rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
    tar --numeric-owner -C "$work/rootfs" -cf "$base_tar.partial" .
    mv "$base_tar.partial" "$base_tar"
    rm -rf "$work/rootfs"
    # Earlier weeks' tarballs are superseded.
    find "$cache" -maxdepth 1 -name 'debian-bookworm-minbase-*.tar' ! -name "${base_tar##*/}" -delete
  fi
  "${podman[@]}" import --quiet --change 'CMD ["/bin/bash"]' "$base_tar" "$base_image" >/dev/null
fi
# Earlier weeks' base images: no longer used by any build.
"${podman[@]}" images --format '{{.Repository}}:{{.Tag}}' localhost/flashsale-debian |
  { grep -vxF "$base_image" || true; } | xargs -r "${podman[@]}" rmi --force >/dev/null

step "podman build (Containerfile)"
# The images of the previous run, removed below once this build has replaced them.
previous_images=$("${podman[@]}" images --quiet --no-trunc localhost/flashsale-build:ci 2>/dev/null || true)
previous_images+=" $("${podman[@]}" images --quiet --no-trunc "$image" 2>/dev/null || true)"
build=("${podman[@]}" build --isolation chroot "${limits[@]}" --pull=never --layers
  --build-arg DEBIAN_IMAGE="$base_image" -f "$root/Containerfile")
# The build stage first, under a tag of its own, so its last layer (the compiled tree) stays
# in the layer cache for the next run like the final image does.
"${build[@]}" --target build -t localhost/flashsale-build:ci "$root" >"$work/build.log" 2>&1 ||
  { tail -n 60 "$work/build.log" >&2; exit 1; }
grep -E '^ *(Hits|Misses):' "$work/build.log" || echo "(compile step cached)"
"${build[@]}" -t "$image" "$root" >>"$work/build.log" 2>&1 ||
  { tail -n 60 "$work/build.log" >&2; exit 1; }
# The previous run's images, if this build replaced them (podman removes their untagged parent
# layers with them), so the disk does not fill up run after run; the new images and the
# layers under them stay for the next run.
current_images=$("${podman[@]}" images --quiet --no-trunc localhost/flashsale-build:ci)
current_images+=" $("${podman[@]}" images --quiet --no-trunc "$image")"
for id in $previous_images; do
  if [[ " $current_images " != *" $id "* ]]; then
    "${podman[@]}" rmi --force "$id" >/dev/null 2>&1 || true
  fi
done

step "runtime image: no compiler, the server's version"
if "${podman[@]}" run --rm "${limits[@]}" --entrypoint /bin/sh "$image" -c 'command -v c++ gcc cc' ; then
  echo "image_test: the runtime image has a compiler" >&2
  exit 1
fi
"${podman[@]}" run --rm "${limits[@]}" --entrypoint /usr/local/bin/flashsale "$image" --version

step "run: secrets from files, read-only root, published port"
secrets="$work/secrets"
mkdir -m 0755 "$secrets"
# 32 random bytes, hex: the length the server requires of both secrets.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secrets/jwt-secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secrets/admin-token"
chmod 0444 "$secrets"/*
"${podman[@]}" volume create "$name" >/dev/null
"${podman[@]}" create --name "$name" "${limits[@]}" \
  --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
  -p 127.0.0.1::8080 \
  -v "$name:/var/lib/flashsale" -v "$secrets:/run/secrets/flashsale:ro" \
  -e FLASHSALE_JWT_SECRET_FILE=/run/secrets/flashsale/jwt-secret \
  -e FLASHSALE_ADMIN_TOKEN_FILE=/run/secrets/flashsale/admin-token \
  -e FLASHSALE_DEMO=1 -e FLASHSALE_THREADS=1 \
  "$image" >/dev/null

# Starts the container and waits until /readyz answers 200 on the published port, at most
# 60 s (recovery of an empty database takes well under a second).
start_and_wait_ready() {
  "${podman[@]}" start "$name" >/dev/null
  local port deadline=$((SECONDS + 60))
  port=$("${podman[@]}" port "$name" 8080/tcp | sed 's/.*://')
  base="http://127.0.0.1:$port"
  until curl -sf --max-time 2 "$base/readyz" >/dev/null; do
    if (( SECONDS > deadline )) || [[ "$("${podman[@]}" inspect --format '{{.State.Running}}' "$name")" != true ]]; then
      echo "image_test: the container did not become ready on $base; its log:" >&2
      "${podman[@]}" logs "$name" 2>&1 | tail -n 40 >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "ready on $base"
}
# Stops the container with SIGTERM (podman stop; SIGKILL only after 30 s) and requires the
# graceful exit code 0.
stop_gracefully() {
  "${podman[@]}" stop --time 30 "$name" >/dev/null
  local code
  code=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$name")
  if [[ "$code" != 0 ]]; then
    echo "image_test: exit code $code after SIGTERM; the log:" >&2
    "${podman[@]}" logs "$name" 2>&1 | tail -n 40 >&2
    exit 1
  fi
  echo "stopped by SIGTERM, exit code 0"
}

start_and_wait_ready
user=$("${podman[@]}" exec "$name" id -u)
[[ "$user" == 10001 ]] || { echo "image_test: the server runs as uid $user" >&2; exit 1; }
echo "the server runs as uid $user"
node "$root/tests/deploy/smoke.mjs" first "$base" "$secrets/admin-token" "$work/state.json"
stop_gracefully

step "restart on the same volume"
start_and_wait_ready
node "$root/tests/deploy/smoke.mjs" after-restart "$base" "$secrets/admin-token" "$work/state.json"
stop_gracefully
step "passed"
