#!/usr/bin/env bash
# Installs booth-agent on a booth (or, with --root DIR, into a directory tree), idempotently:
# a second run with the same arguments changes nothing and says so. See `provision.sh --help`.
#
# Layout it maintains:
#   /opt/booth-agent/<version>/          one unpacked bundle per version, side by side
#   /opt/booth-agent/current -> <version> switched atomically (rename of a new symlink)
#   /usr/local/bin/booth-agent           -> /opt/booth-agent/current/bin/booth-agent
#   /etc/booth-agent/config.yaml         root:booth-agent 0640
#   /etc/booth-agent/secrets/*           root:booth-agent 0640 (the agent reads them by group)
#   /etc/booth-agent/booth-agent.env     the service's Node.js memory flags
#   /var/lib/booth-agent, /var/log/booth-agent   booth-agent 0700
#   /etc/systemd/system/booth-agent.service      hardened unit, enabled
#   /usr/lib/sysusers.d/booth-agent.conf         the system user, declared
set -euo pipefail
umask 022

PROG=provision.sh
EX_USAGE=64 EX_UNAVAILABLE=69 EX_SOFTWARE=70 EX_CONFIG=78

usage() {
  cat <<'EOF'
Usage: provision.sh --booth-id ID --country CC --upload-url URL --watch-dir DIR --opensearch-url URL [options]
       provision.sh --uninstall [--purge] [--root DIR]

Installs (or upgrades) booth-agent from a bundle and runs it under systemd. Safe to run again:
what is already as asked is left alone, and a failed upgrade leaves the running version in place.

Booth:
  --booth-id ID              booth.id (A-Z a-z 0-9 . _ -, up to 64)
  --country CC               booth.country, ISO 3166-1 alpha-2 (US, DE, ...)
  --region NAME              booth.region (optional)
Uploads:
  --upload-url URL           where each image goes; may use {booth_id} {booking_id} {file}
  --watch-dir DIR            the photo software's outbox: <DIR>/<booking>/<image>
  --upload-auth-file F       file holding the uploads' Authorization header value (copied, 0640)
  --after-upload MODE        keep | delete | move (default keep)
  --move-to DIR              where uploaded images go with --after-upload move
  --watch-group GROUP        group that may read the watch dir (default: the dir's own group)
OpenSearch:
  --opensearch-url URL       the cluster (or OpenSearch Ingestion / Data Prepper endpoint)
  --opensearch-user USER     basic auth user (with --opensearch-password-file)
  --opensearch-password-file F   file holding the password (copied, 0640)
  --opensearch-token-file F  file holding a bearer token (copied, 0640)
  --ca-file F                CA certificate for the upload server and OpenSearch (PEM)
  --index-prefix P           default booth
Install:
  --bundle FILE              booth-agent-<version>-linux-<arch>.tar.xz (default: build one from
                             the checkout this script is in, with npm run bundle)
  --config-template F        config.yaml template (default: share/config.template.yaml of the
                             bundle); each placeholder becomes a YAML value: @BOOTH_ID@ @COUNTRY@
                             @REGION@ (null without --region) @REGION_LINE@ (a whole "region:"
                             line, or none) @UPLOAD_URL@ @WATCH_DIR@ @AFTER_UPLOAD@ @MOVE_TO@
                             @UPLOAD_HEADER_FILES@ @OPENSEARCH_URL@ @OPENSEARCH_USER@
                             @OPENSEARCH_AUTH@ @INDEX_PREFIX@ @TLS@ @STATE_DIR@ @SECRETS_DIR@
  --memory-max SIZE          systemd MemoryMax (default 256M; MemoryHigh is 3/4 of it)
  --cpu-quota PCT            systemd CPUQuota (default 50%)
  --keep-versions N          installed versions to keep, at least 2 (default 3)
  --start-timeout SECONDS    how long the new version must run before it counts as started (default 20)
  --root DIR                 install into DIR instead of / (for tests and images; no service is started)
  --no-start                 install and enable, but do not (re)start the service
  --uninstall                remove the program and the service; config, data and logs stay
  --purge                    with --uninstall: also remove config, data, logs and the user
  -h, --help                 this text
Exit: 0 done (or nothing to do), 1 failed (rolled back), 64 bad arguments, 69 missing systemd or
tools, 78 the configuration does not validate.
EOF
}

die() { local code=$1; shift; printf '%s: %s\n' "$PROG" "$*" >&2; exit "$code"; }
say() { printf '%s: %s\n' "$PROG" "$*"; }
CHANGES=0
changed() { CHANGES=$((CHANGES + 1)); printf '  changed: %s\n' "$*"; }

# ---- arguments -------------------------------------------------------------------------------
BOOTH_ID='' COUNTRY='' REGION='' UPLOAD_URL='' WATCH_DIR='' UPLOAD_AUTH_FILE='' AFTER_UPLOAD=keep MOVE_TO=''
WATCH_GROUP='' OPENSEARCH_URL='' OPENSEARCH_USER='' OPENSEARCH_PASSWORD_FILE='' OPENSEARCH_TOKEN_FILE=''
CA_FILE='' INDEX_PREFIX=booth BUNDLE='' CONFIG_TEMPLATE='' MEMORY_MAX=256M CPU_QUOTA=50% KEEP_VERSIONS=3
START_TIMEOUT=20 ROOT='' NO_START=0 UNINSTALL=0 PURGE=0

need_value() { [[ $# -ge 2 && -n $2 ]] || die $EX_USAGE "$1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --booth-id) need_value "$@"; BOOTH_ID=$2; shift 2 ;;
    --country) need_value "$@"; COUNTRY=$2; shift 2 ;;
    --region) need_value "$@"; REGION=$2; shift 2 ;;
    --upload-url) need_value "$@"; UPLOAD_URL=$2; shift 2 ;;
    --watch-dir) need_value "$@"; WATCH_DIR=$2; shift 2 ;;
    --upload-auth-file) need_value "$@"; UPLOAD_AUTH_FILE=$2; shift 2 ;;
    --after-upload) need_value "$@"; AFTER_UPLOAD=$2; shift 2 ;;
    --move-to) need_value "$@"; MOVE_TO=$2; shift 2 ;;
    --watch-group) need_value "$@"; WATCH_GROUP=$2; shift 2 ;;
    --opensearch-url) need_value "$@"; OPENSEARCH_URL=$2; shift 2 ;;
    --opensearch-user) need_value "$@"; OPENSEARCH_USER=$2; shift 2 ;;
    --opensearch-password-file) need_value "$@"; OPENSEARCH_PASSWORD_FILE=$2; shift 2 ;;
    --opensearch-token-file) need_value "$@"; OPENSEARCH_TOKEN_FILE=$2; shift 2 ;;
    --ca-file) need_value "$@"; CA_FILE=$2; shift 2 ;;
    --index-prefix) need_value "$@"; INDEX_PREFIX=$2; shift 2 ;;
    --bundle) need_value "$@"; BUNDLE=$2; shift 2 ;;
    --config-template) need_value "$@"; CONFIG_TEMPLATE=$2; shift 2 ;;
    --memory-max) need_value "$@"; MEMORY_MAX=$2; shift 2 ;;
    --cpu-quota) need_value "$@"; CPU_QUOTA=$2; shift 2 ;;
    --keep-versions) need_value "$@"; KEEP_VERSIONS=$2; shift 2 ;;
    --start-timeout) need_value "$@"; START_TIMEOUT=$2; shift 2 ;;
    --root) need_value "$@"; ROOT=$2; shift 2 ;;
    --no-start) NO_START=1; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die $EX_USAGE "unknown argument \"$1\" (see --help)" ;;
  esac
done

if [[ -n $ROOT ]]; then
  [[ -d $ROOT ]] || die $EX_USAGE "--root $ROOT: no such directory"
  ROOT=$(cd "$ROOT" && pwd)
fi
R=$ROOT
OPT=/opt/booth-agent
ETC=/etc/booth-agent
SECRETS=$ETC/secrets
STATE_DIR=/var/lib/booth-agent
LOG_DIR=/var/log/booth-agent
UNIT=/etc/systemd/system/booth-agent.service
SYSUSERS=/usr/lib/sysusers.d/booth-agent.conf
LINK=/usr/local/bin/booth-agent
USER_NAME=booth-agent

[[ $(id -u) -eq 0 ]] || die $EX_USAGE "run as root (it creates a system user and files owned by it)"

# ---- what the machine must have --------------------------------------------------------------
require_tools() {
  local missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  [[ ${#missing[@]} -eq 0 ]] || return 1
}
if [[ -z $R ]]; then
  require_tools systemctl systemd-sysusers ||
    die $EX_UNAVAILABLE "systemd is required (systemctl not found): booth-agent runs as a systemd service; on a system without systemd, run 'booth-agent run' under your init system"
  [[ -d /run/systemd/system ]] || die $EX_UNAVAILABLE "systemd is installed but not running (no /run/systemd/system): boot with systemd, or use --root DIR to install into a tree"
else
  require_tools systemctl systemd-sysusers ||
    die $EX_UNAVAILABLE "systemd's tools are required even with --root (systemctl, systemd-sysusers not found): apt-get install systemd"
fi
require_tools tar xz sha256sum setpriv || die $EX_UNAVAILABLE "needs tar, xz, sha256sum and setpriv (apt-get install tar xz-utils coreutils util-linux)"

host_arch() {
  case $(uname -m) in
    x86_64|amd64) echo x64 ;;
    aarch64|arm64) echo arm64 ;;
    *) echo "unsupported:$(uname -m)" ;;
  esac
}

# ---- small idempotent steps ------------------------------------------------------------------
# Each writes only when the result would differ, so a second run touches nothing (not even mtimes).

uid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$R/etc/passwd" 2>/dev/null; }
gid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$R/etc/group" 2>/dev/null; }
group_name_of_gid() { awk -F: -v g="$1" '$3 == g { print $1; exit }' "$R/etc/group" 2>/dev/null; }

# ensure_dir PATH MODE UID GID
ensure_dir() {
  local p=$R$1 mode=$2 uid=$3 gid=$4
  if [[ ! -d $p ]]; then
    mkdir -p "$p"; chmod "$mode" "$p"; chown "$uid:$gid" "$p"; changed "created $1"
  elif [[ $(stat -c '%a %u %g' "$p") != "${mode#0} $uid $gid" ]]; then
    chmod "$mode" "$p"; chown "$uid:$gid" "$p"; changed "set $1 to $mode $uid:$gid"
  fi
}

# ensure_file SOURCE PATH MODE UID GID — SOURCE is a file on this machine; PATH is in the target.
ensure_file() {
  local src=$1 p=$R$2 mode=$3 uid=$4 gid=$5
  if [[ -f $p ]] && cmp -s "$src" "$p"; then
    if [[ $(stat -c '%a %u %g' "$p") != "${mode#0} $uid $gid" ]]; then
      chmod "$mode" "$p"; chown "$uid:$gid" "$p"; changed "set $2 to $mode $uid:$gid"
    fi
    return 0
  fi
  mkdir -p "$(dirname "$p")"
  local tmp
  tmp=$(mktemp "$(dirname "$p")/.provision.XXXXXX")
  cat "$src" >"$tmp"
  chmod "$mode" "$tmp"; chown "$uid:$gid" "$tmp"
  local what=installed; [[ -e $p ]] && what=updated
  mv -f "$tmp" "$p"
  changed "$what $2"
}

# ensure_symlink TARGET PATH — replaced by rename, so PATH is never missing for a moment.
ensure_symlink() {
  local target=$1 p=$R$2
  [[ -L $p && $(readlink "$p") == "$target" ]] && return 0
  mkdir -p "$(dirname "$p")"
  ln -sfn "$target" "$p.provision-new"
  mv -Tf "$p.provision-new" "$p"
  changed "$2 -> $target"
}

remove_path() {
  local p=$R$1
  [[ -e $p || -L $p ]] || return 0
  rm -rf -- "$p"
  changed "removed $1"
}

yaml_string() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# ---- uninstall -------------------------------------------------------------------------------
if [[ $UNINSTALL -eq 1 ]]; then
  if [[ -z $R ]]; then
    if systemctl is-enabled --quiet booth-agent 2>/dev/null || systemctl is-active --quiet booth-agent 2>/dev/null; then
      systemctl disable --now booth-agent >/dev/null 2>&1 || true
      changed "stopped and disabled booth-agent.service"
    fi
  elif [[ -L $R/etc/systemd/system/multi-user.target.wants/booth-agent.service ]]; then
    systemctl --root="$R" disable booth-agent.service >/dev/null 2>&1 || true
    changed "disabled booth-agent.service"
  fi
  remove_path "$UNIT"
  [[ -z $R && $CHANGES -gt 0 ]] && systemctl daemon-reload
  remove_path "$LINK"
  remove_path "$OPT"
  if [[ $PURGE -eq 1 ]]; then
    remove_path "$ETC"; remove_path "$STATE_DIR"; remove_path "$LOG_DIR"
    if [[ -n $(uid_of "$USER_NAME") ]]; then
      userdel ${R:+--root "$R"} "$USER_NAME" >/dev/null 2>&1 || die $EX_SOFTWARE "could not remove the user $USER_NAME"
      changed "removed the user $USER_NAME"
    fi
    # userdel removes the user's group only with USERGROUPS_ENAB in login.defs (which a --root tree lacks).
    if [[ -n $(gid_of "$USER_NAME") ]]; then
      groupdel ${R:+--root "$R"} "$USER_NAME" >/dev/null 2>&1 || die $EX_SOFTWARE "could not remove the group $USER_NAME"
      changed "removed the group $USER_NAME"
    fi
    remove_path "$SYSUSERS"
  else
    say "kept $ETC, $STATE_DIR, $LOG_DIR and the user $USER_NAME (--purge removes them)"
  fi
  if [[ $CHANGES -eq 0 ]]; then say "booth-agent is not installed; nothing changed"; else say "uninstalled ($CHANGES changes)"; fi
  exit 0
fi

# ---- arguments that an install needs ---------------------------------------------------------
for pair in "--booth-id:$BOOTH_ID" "--country:$COUNTRY" "--upload-url:$UPLOAD_URL" "--watch-dir:$WATCH_DIR" "--opensearch-url:$OPENSEARCH_URL"; do
  [[ -n ${pair#*:} ]] || die $EX_USAGE "${pair%%:*} is required (see --help)"
done
[[ $BOOTH_ID =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die $EX_USAGE "--booth-id \"$BOOTH_ID\": expected 1-64 of A-Z a-z 0-9 . _ -"
[[ $COUNTRY =~ ^[A-Z]{2}$ ]] || die $EX_USAGE "--country \"$COUNTRY\": expected an ISO 3166-1 alpha-2 code in capitals, like US"
[[ $WATCH_DIR == /* ]] || die $EX_USAGE "--watch-dir \"$WATCH_DIR\": expected an absolute path"
# The service runs with PrivateTmp=yes: it would see an empty /tmp of its own.
for p in "$WATCH_DIR" "$MOVE_TO"; do
  [[ $p == /tmp || $p == /tmp/* || $p == /var/tmp || $p == /var/tmp/* ]] &&
    die $EX_USAGE "$p is under /tmp or /var/tmp, which the service cannot see (PrivateTmp): choose a folder like /srv/booth/outbox"
done
case $AFTER_UPLOAD in
  keep|delete) [[ -z $MOVE_TO ]] || die $EX_USAGE "--move-to needs --after-upload move" ;;
  move) [[ $MOVE_TO == /* ]] || die $EX_USAGE "--after-upload move needs --move-to DIR (an absolute path)" ;;
  *) die $EX_USAGE "--after-upload \"$AFTER_UPLOAD\": expected keep, delete or move" ;;
esac
[[ -z $OPENSEARCH_USER || -n $OPENSEARCH_PASSWORD_FILE ]] || die $EX_USAGE "--opensearch-user needs --opensearch-password-file"
[[ -z $OPENSEARCH_PASSWORD_FILE || -n $OPENSEARCH_USER ]] || die $EX_USAGE "--opensearch-password-file needs --opensearch-user"
[[ -z $OPENSEARCH_PASSWORD_FILE || -z $OPENSEARCH_TOKEN_FILE ]] || die $EX_USAGE "give --opensearch-password-file or --opensearch-token-file, not both"
for f in "$UPLOAD_AUTH_FILE" "$OPENSEARCH_PASSWORD_FILE" "$OPENSEARCH_TOKEN_FILE" "$CA_FILE" "$CONFIG_TEMPLATE"; do
  [[ -z $f || -r $f ]] || die $EX_USAGE "cannot read $f"
done
# At least 2: the previous version is always kept (for rollback); with 1, a second run would prune it.
[[ $KEEP_VERSIONS =~ ^([2-9]|[1-9][0-9]+)$ ]] || die $EX_USAGE "--keep-versions \"$KEEP_VERSIONS\": expected a whole number of at least 2 (the current and the previous version)"
[[ $START_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die $EX_USAGE "--start-timeout \"$START_TIMEOUT\": expected seconds"

# ---- the bundle ------------------------------------------------------------------------------
ARCH=$(host_arch)
[[ $ARCH != unsupported:* ]] || die $EX_UNAVAILABLE "this machine is ${ARCH#unsupported:}; booth-agent bundles exist for x86_64 (x64) and aarch64 (arm64)"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir "$WORK/unpacked"
if [[ -z $BUNDLE && -f $HERE/VERSION && -f $HERE/ARCH && -f $HERE/SHA256SUMS ]]; then
  # Run from an unpacked bundle's share/: install that bundle.
  BUNDLE=$HERE
  cp -a "$HERE" "$WORK/unpacked/"
elif [[ -z $BUNDLE ]]; then
  [[ -f $HERE/package.json && -f $HERE/scripts/bundle.ts ]] ||
    die $EX_USAGE "no --bundle given, and $HERE is neither a booth-agent checkout to build one from nor an unpacked bundle"
  say "building the $ARCH bundle from $HERE (npm run bundle -- --arch $ARCH)"
  (cd "$HERE" && npm run --silent bundle -- --arch "$ARCH" --out "$WORK" >&2) || die $EX_SOFTWARE "building the bundle failed"
  BUNDLE=$(ls "$WORK"/booth-agent-*-linux-"$ARCH".tar.xz)
fi
if [[ ! -d $BUNDLE ]]; then
  [[ -r $BUNDLE ]] || die $EX_USAGE "--bundle $BUNDLE: cannot read it"
  tar -xf "$BUNDLE" -C "$WORK/unpacked" || die $EX_USAGE "--bundle $BUNDLE: not a readable tarball"
fi
shopt -s nullglob
tops=("$WORK"/unpacked/booth-agent-*)
shopt -u nullglob
[[ ${#tops[@]} -eq 1 && -f ${tops[0]}/VERSION && -f ${tops[0]}/ARCH ]] || die $EX_USAGE "--bundle $BUNDLE: not a booth-agent bundle (no booth-agent-*/VERSION)"
NEW=${tops[0]}
VERSION=$(<"$NEW/VERSION")
BUNDLE_ARCH=$(<"$NEW/ARCH")
# A digit first: never "current", "." or ".." (names beside the versions in /opt/booth-agent).
[[ $VERSION =~ ^[0-9][0-9A-Za-z.+_-]*$ ]] || die $EX_USAGE "--bundle $BUNDLE: bad VERSION \"$VERSION\""
[[ $BUNDLE_ARCH == "$ARCH" ]] || die $EX_USAGE "--bundle $BUNDLE is for $BUNDLE_ARCH, this machine is $ARCH ($(uname -m)): use booth-agent-$VERSION-linux-$ARCH"
(cd "$NEW" && sha256sum --quiet --strict -c SHA256SUMS) >/dev/null 2>&1 || die $EX_USAGE "--bundle $BUNDLE: contents do not match its SHA256SUMS (damaged download?)"
# …and nothing beside what SHA256SUMS lists (a file slipped in would be installed unchecked).
mapfile -t sums <"$NEW/SHA256SUMS"
[[ $(cd "$NEW" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort) == "$(printf '%s\n' "${sums[@]#*  }" | LC_ALL=C sort)" ]] ||
  die $EX_USAGE "--bundle $BUNDLE: holds files its SHA256SUMS does not list"

# ---- user and directories --------------------------------------------------------------------
mkdir -p "$R/etc"
printf 'u %s - "booth-agent (photo uploads and telemetry)" %s /usr/sbin/nologin\n' "$USER_NAME" "$STATE_DIR" >"$WORK/sysusers.conf"
ensure_file "$WORK/sysusers.conf" "$SYSUSERS" 0644 0 0
if [[ -z $(uid_of "$USER_NAME") ]]; then
  systemd-sysusers ${R:+--root="$R"} "$R$SYSUSERS" >"$WORK/sysusers.log" 2>&1 || die $EX_SOFTWARE "systemd-sysusers could not create the user $USER_NAME"
  changed "created the system user $USER_NAME"
fi
AUID=$(uid_of "$USER_NAME") AGID=$(gid_of "$USER_NAME")
[[ -n $AUID && -n $AGID ]] || die $EX_SOFTWARE "the user $USER_NAME is not in $R/etc/passwd after systemd-sysusers"

ensure_dir /opt 0755 0 0
ensure_dir "$OPT" 0755 0 0
ensure_dir "$ETC" 0750 0 "$AGID"
ensure_dir "$SECRETS" 0750 0 "$AGID"
ensure_dir "$STATE_DIR" 0700 "$AUID" "$AGID"
ensure_dir "$LOG_DIR" 0700 "$AUID" "$AGID"
if [[ ! -d $R$WATCH_DIR ]]; then
  mkdir -p "$R$WATCH_DIR"
  changed "created $WATCH_DIR (make sure the photo software can write to it)"
fi
if [[ $AFTER_UPLOAD == move && ! -d $R$MOVE_TO ]]; then
  mkdir -p "$R$MOVE_TO"; chown "$AUID:$AGID" "$R$MOVE_TO"; changed "created $MOVE_TO"
fi

# The agent reads the photos through a group: the watch dir's own, or --watch-group.
if [[ -z $WATCH_GROUP ]]; then
  wgid=$(stat -c '%g' "$R$WATCH_DIR")
  [[ $wgid -ne 0 && $wgid -ne $AGID ]] && WATCH_GROUP=$(group_name_of_gid "$wgid")
elif [[ -z $(gid_of "$WATCH_GROUP") ]]; then
  die $EX_USAGE "--watch-group $WATCH_GROUP: no such group"
fi

# ---- secrets, staged -------------------------------------------------------------------------
# Copied beside the staged config for check-config; installed only once the new version passed.
declare -A WANTED_SECRETS=()
[[ -n $UPLOAD_AUTH_FILE ]] && WANTED_SECRETS[upload-authorization]=$UPLOAD_AUTH_FILE
[[ -n $OPENSEARCH_PASSWORD_FILE ]] && WANTED_SECRETS[opensearch-password]=$OPENSEARCH_PASSWORD_FILE
[[ -n $OPENSEARCH_TOKEN_FILE ]] && WANTED_SECRETS[opensearch-token]=$OPENSEARCH_TOKEN_FILE
install -d -m 0750 -o 0 -g "$AGID" "$WORK/secrets"
for name in "${!WANTED_SECRETS[@]}"; do install -m 0640 -o 0 -g "$AGID" "${WANTED_SECRETS[$name]}" "$WORK/secrets/$name"; done
[[ -n $CA_FILE ]] && install -m 0644 -o 0 -g 0 "$CA_FILE" "$WORK/ca.pem"

# ---- config ----------------------------------------------------------------------------------
# Rendered twice: as the booth will read it, and for check-config: every path under --root, the
# secrets and the CA from where they are staged.
render_config() {
  local prefix=$1 out=$2 secrets=$3 ca=$4 template=${CONFIG_TEMPLATE:-$NEW/share/config.template.yaml} text
  text=$(<"$template")
  if [[ -n $REGION ]]; then
    text=${text//@REGION_LINE@/  region: $(yaml_string "$REGION")}
  else
    text=${text//@REGION_LINE@$'\n'/}
  fi
  text=${text//@BOOTH_ID@/$(yaml_string "$BOOTH_ID")}
  text=${text//@COUNTRY@/$(yaml_string "$COUNTRY")}
  local region=null
  [[ -n $REGION ]] && region=$(yaml_string "$REGION")
  text=${text//@REGION@/$region}
  local user=null
  [[ -n $OPENSEARCH_USER ]] && user=$(yaml_string "$OPENSEARCH_USER")
  text=${text//@OPENSEARCH_USER@/$user}
  text=${text//@UPLOAD_URL@/$(yaml_string "$UPLOAD_URL")}
  text=${text//@WATCH_DIR@/$(yaml_string "$prefix$WATCH_DIR")}
  text=${text//@OPENSEARCH_URL@/$(yaml_string "$OPENSEARCH_URL")}
  text=${text//@INDEX_PREFIX@/$(yaml_string "$INDEX_PREFIX")}
  text=${text//@STATE_DIR@/$(yaml_string "$prefix$STATE_DIR")}
  text=${text//@SECRETS_DIR@/$secrets}
  text=${text//@AFTER_UPLOAD@/$AFTER_UPLOAD}
  local move=null
  [[ $AFTER_UPLOAD == move ]] && move=$(yaml_string "$prefix$MOVE_TO")
  text=${text//@MOVE_TO@/$move}
  local headers='{}'
  [[ -n $UPLOAD_AUTH_FILE ]] && headers="{Authorization: $(yaml_string "$secrets/upload-authorization")}"
  text=${text//@UPLOAD_HEADER_FILES@/$headers}
  local auth='{type: none}'
  [[ -n $OPENSEARCH_USER ]] && auth="{type: basic, username: $(yaml_string "$OPENSEARCH_USER"), password_file: $(yaml_string "$secrets/opensearch-password")}"
  [[ -n $OPENSEARCH_TOKEN_FILE ]] && auth="{type: bearer, token_file: $(yaml_string "$secrets/opensearch-token")}"
  text=${text//@OPENSEARCH_AUTH@/$auth}
  local tls='{verify: true}'
  [[ -n $CA_FILE ]] && tls="{ca_file: $(yaml_string "$ca"), verify: true}"
  text=${text//@TLS@/$tls}
  printf '%s\n' "$text" >"$out"
}
render_config '' "$WORK/config.yaml" "$SECRETS" "$ETC/ca.pem"
render_config "$R" "$WORK/config.check.yaml" "$WORK/secrets" "$WORK/ca.pem"

# ---- the program, side by side ---------------------------------------------------------------
PREVIOUS=''
[[ -L $R$OPT/current ]] && PREVIOUS=$(readlink "$R$OPT/current")
TARGET_DIR=$R$OPT/$VERSION
FRESH=0
if [[ -d $TARGET_DIR ]]; then
  cmp -s "$NEW/SHA256SUMS" "$TARGET_DIR/SHA256SUMS" ||
    die $EX_USAGE "booth-agent $VERSION is already installed with different contents: give the new build its own version"
else
  rm -rf "$TARGET_DIR.provision-new"
  cp -a "$NEW" "$TARGET_DIR.provision-new"
  chown -R 0:0 "$TARGET_DIR.provision-new"
  mv -T "$TARGET_DIR.provision-new" "$TARGET_DIR"
  FRESH=1
fi

discard_fresh() { [[ $FRESH -eq 1 ]] && rm -rf "$TARGET_DIR"; return 0; }

# It must start: Node.js for this machine, the SQLite addon, the agent itself.
if ! smoke=$("$TARGET_DIR/bin/booth-agent" version 2>&1); then
  discard_fresh
  die 1 "booth-agent $VERSION does not start on this machine; nothing switched${PREVIOUS:+, $PREVIOUS stays}:
$smoke"
fi

# The config must validate with the version that will read it, as the user that will read it.
as_agent=()
if [[ -z $R ]]; then
  # mktemp -d made $WORK 0700: the agent user must get through it to config.check.yaml.
  chgrp "$AGID" "$WORK" && chmod 0710 "$WORK"
  as_agent=(setpriv --reuid="$AUID" --regid="$AGID" --clear-groups)
  [[ -n $WATCH_GROUP ]] && as_agent=(setpriv --reuid="$AUID" --regid="$AGID" --groups="$(gid_of "$WATCH_GROUP")")
  as_agent+=(--)
fi
if ! check=$("${as_agent[@]}" "$TARGET_DIR/bin/booth-agent" check-config --config "$WORK/config.check.yaml" 2>&1); then
  discard_fresh
  printf '%s\n' "$check" >&2
  die $EX_CONFIG "the configuration does not validate with booth-agent $VERSION; nothing switched${PREVIOUS:+, $PREVIOUS stays}"
fi

[[ $FRESH -eq 1 ]] && changed "installed booth-agent $VERSION in $OPT/$VERSION"

# ---- secrets and files of the service --------------------------------------------------------
for name in "${!WANTED_SECRETS[@]}"; do ensure_file "$WORK/secrets/$name" "$SECRETS/$name" 0640 0 "$AGID"; done
# A secret no longer asked for (basic auth replaced by a token, say) does not linger.
for f in "$R$SECRETS"/*; do
  [[ -e $f && -z ${WANTED_SECRETS[$(basename "$f")]+set} ]] && remove_path "$SECRETS/$(basename "$f")"
done
if [[ -n $CA_FILE ]]; then ensure_file "$WORK/ca.pem" "$ETC/ca.pem" 0644 0 0; else remove_path "$ETC/ca.pem"; fi
ensure_file "$WORK/config.yaml" "$ETC/config.yaml" 0640 0 "$AGID"
ensure_file "$TARGET_DIR/share/booth-agent.env" "$ETC/booth-agent.env" 0644 0 0

protect_home=yes
rw_paths="$STATE_DIR $LOG_DIR"
[[ $AFTER_UPLOAD != keep ]] && rw_paths+=" $WATCH_DIR"
[[ $AFTER_UPLOAD == move ]] && rw_paths+=" $MOVE_TO"
for p in "$WATCH_DIR" "$MOVE_TO"; do
  [[ $p == /home/* || $p == /root/* || $p == /run/user/* ]] && protect_home=read-only
done
systemd_version=$(systemctl --version | awk 'NR == 1 { print $2 }')
if [[ ${systemd_version%%.*} -ge 254 ]]; then
  backoff=$'# Restarts slow down from 5 s to 10 min while it keeps failing.\nRestartSteps=10\nRestartMaxDelaySec=10min'
else
  backoff="# systemd $systemd_version has no RestartSteps= (254+): restarts come every 5 s."
fi
groups_line='# SupplementaryGroups= (the watch dir is readable by the agent itself)'
[[ -n $WATCH_GROUP ]] && groups_line="SupplementaryGroups=$WATCH_GROUP"
memory_high=$MEMORY_MAX
if [[ $MEMORY_MAX =~ ^([0-9]+)([KMG]?)$ ]]; then memory_high="$((BASH_REMATCH[1] * 3 / 4))${BASH_REMATCH[2]}"; fi
unit=$(<"$TARGET_DIR/share/booth-agent.service")
unit=${unit//@SUPPLEMENTARY_GROUPS@/$groups_line}
unit=${unit//@RESTART_BACKOFF@/$backoff}
unit=${unit//@MEMORY_MAX@/$MEMORY_MAX}
unit=${unit//@MEMORY_HIGH@/$memory_high}
unit=${unit//@CPU_QUOTA@/$CPU_QUOTA}
unit=${unit//@PROTECT_HOME@/$protect_home}
unit=${unit//@READ_WRITE_PATHS@/$rw_paths}
printf '%s\n' "$unit" >"$WORK/booth-agent.service"
unit_before=$CHANGES
ensure_file "$WORK/booth-agent.service" "$UNIT" 0644 0 0
UNIT_CHANGED=$((CHANGES - unit_before))

# ---- switch ----------------------------------------------------------------------------------
ensure_symlink "$VERSION" "$OPT/current"
ensure_symlink "$OPT/current/bin/booth-agent" "$LINK"
# Anything changed so far (program, config, secrets, unit) takes effect with a restart.
RESTART_NEEDED=$((CHANGES > 0 ? 1 : 0))

# -L: the link's target is an absolute path inside the target system.
if [[ ! -L $R/etc/systemd/system/multi-user.target.wants/booth-agent.service ]]; then
  systemctl ${R:+--root="$R"} enable booth-agent.service >/dev/null 2>&1 || die $EX_SOFTWARE "systemctl enable booth-agent.service failed"
  changed "enabled booth-agent.service"
fi

rollback() {
  local why=$1
  if [[ -n $PREVIOUS && $PREVIOUS != "$VERSION" ]]; then
    ln -sfn "$PREVIOUS" "$R$OPT/current.provision-new" && mv -Tf "$R$OPT/current.provision-new" "$R$OPT/current"
    say "rolled back to $PREVIOUS"
    if [[ -z $R ]]; then systemctl restart booth-agent.service || true; fi
  fi
  die 1 "$why"
}

# ---- start and watch it ----------------------------------------------------------------------
if [[ -z $R && $NO_START -eq 0 ]]; then
  [[ $UNIT_CHANGED -gt 0 ]] && systemctl daemon-reload
  if [[ $RESTART_NEEDED -eq 1 ]] || ! systemctl is-active --quiet booth-agent.service; then
    restarts_before=$(systemctl show -p NRestarts --value booth-agent.service)
    systemctl restart booth-agent.service || rollback "booth-agent $VERSION failed to start ($(systemctl is-active booth-agent.service)); see journalctl -u booth-agent"
    # Started is not running: it must stay up, without systemd restarting it, for a while.
    for ((i = 0; i < START_TIMEOUT; i++)); do
      sleep 1
      if ! systemctl is-active --quiet booth-agent.service || [[ $(systemctl show -p NRestarts --value booth-agent.service) != "$restarts_before" ]]; then
        rollback "booth-agent $VERSION did not keep running (journalctl -u booth-agent says why)"
      fi
    done
    changed "booth-agent.service running $VERSION"
  fi
fi

# ---- old versions: the current, the previous and the newest others up to --keep-versions ----------------------------------------------------------------------------
current=$(readlink "$R$OPT/current")
keep=("$current")
[[ -n $PREVIOUS && $PREVIOUS != "$current" && -d $R$OPT/$PREVIOUS ]] && keep+=("$PREVIOUS")
while IFS= read -r v; do
  [[ -z $v || $v == current || $v == "$current" || $v == "$PREVIOUS" ]] && continue
  if [[ ${#keep[@]} -lt $KEEP_VERSIONS ]]; then keep+=("$v"); else remove_path "$OPT/$v"; fi
done < <(find "$R$OPT" -mindepth 1 -maxdepth 1 -type d ! -name '*.provision-new' -printf '%f\n' | sort -rV)
# What an interrupted run left half-copied.
find "$R$OPT" -mindepth 1 -maxdepth 1 -name '*.provision-new' -exec rm -rf {} +

if [[ $CHANGES -eq 0 ]]; then
  say "nothing to change: booth-agent $VERSION is installed as asked for booth $BOOTH_ID${R:+ in $R}"
else
  say "done: booth-agent $VERSION for booth $BOOTH_ID ($CHANGES changes$([[ -n $PREVIOUS && $PREVIOUS != "$VERSION" ]] && echo "; previous version $PREVIOUS, kept for rollback"))${R:+ in $R}"
fi
