#!/usr/bin/env bash
# Install a videoapi binary as a hardened systemd service.
#
# Usage: install.sh [--root DIR] [--no-start] BINARY
# Build the shipped binary with: cargo build --profile dist  (then target/dist/videoapi)
#
# Safe to run more than once: the binary and unit file are replaced, the data
# directory is kept, and an existing config file is never overwritten.
set -euo pipefail

readonly PROG=${0##*/}
readonly SERVICE=videoapi
readonly SVC_USER=videoapi
readonly SVC_GROUP=videoapi

# Real (unprefixed) paths. These are what the unit file refers to.
readonly BIN_PATH=/usr/local/bin/videoapi
readonly DATA_DIR=/var/lib/videoapi
readonly TMP_DIR=/var/lib/videoapi/tmp
readonly CONF_DIR=/etc/videoapi
readonly CONF_PATH=/etc/videoapi/videoapi.toml
readonly UNIT_PATH=/etc/systemd/system/videoapi.service

usage() {
    cat <<EOF
Usage: $PROG [--root DIR] [--no-start] BINARY

Install the videoapi BINARY as the hardened systemd service "$SERVICE".
Build it with 'cargo build --profile dist' (the binary is target/dist/videoapi).

Writes:
  $BIN_PATH                   (0755, replaced atomically)
  $DATA_DIR/ and tmp/            (0750, owned by $SVC_USER)
  $CONF_PATH         (0640, only if it does not exist yet)
  $UNIT_PATH     (0644, always rewritten)

Options:
  --root DIR   Prefix every written path with DIR (default: /). With a root
               other than /, no user is created, no ownership is changed and
               systemctl is not called: useful for staging, packaging, tests.
  --no-start   Do not call systemctl (no daemon-reload, enable or restart).
  -h, --help   Show this help and exit.

Running it again upgrades the binary and unit file, keeps the data directory
and never touches an existing config file.
EOF
}

die() {
    # die EXIT_CODE MESSAGE...
    local code=$1
    shift
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit "$code"
}

say() {
    printf '%s: %s\n' "$PROG" "$*"
}

# ---------------------------------------------------------------- arguments --

ROOT=/
NO_START=0
BINARY=

while (($# > 0)); do
    case $1 in
        -h | --help)
            usage
            exit 0
            ;;
        --root)
            (($# >= 2)) || die 2 "--root needs a directory argument (see --help)"
            ROOT=$2
            shift 2
            ;;
        --root=*)
            ROOT=${1#--root=}
            shift
            ;;
        --no-start)
            NO_START=1
            shift
            ;;
        --)
            shift
            break
            ;;
        -*)
            die 2 "unknown option: $1 (see --help)"
            ;;
        *)
            [[ -z $BINARY ]] || die 2 "only one BINARY may be given (see --help)"
            BINARY=$1
            shift
            ;;
    esac
done
if (($# > 0)); then
    [[ -z $BINARY && $# -eq 1 ]] || die 2 "only one BINARY may be given (see --help)"
    BINARY=$1
fi

[[ -n $BINARY ]] || die 2 "missing BINARY argument (see --help)"
[[ -e $BINARY ]] || die 2 "binary not found: $BINARY"
[[ -f $BINARY ]] || die 2 "binary is not a regular file: $BINARY"
[[ -x $BINARY ]] || die 2 "binary is not executable: $BINARY (try: chmod +x '$BINARY')"

[[ -n $ROOT ]] || die 2 "--root must not be empty"
if [[ $ROOT != / ]]; then
    mkdir -p -- "$ROOT" || die 1 "cannot create root directory: $ROOT"
    ROOT=$(cd -- "$ROOT" && pwd -P)
fi

# A "real" install targets the running system: create the user, set ownership.
REAL=0
if [[ $ROOT == / ]]; then
    REAL=1
    ((EUID == 0)) || die 1 "installing into / needs root (run with sudo, or use --root DIR to stage elsewhere)"
fi

# On-disk locations: the real paths, prefixed with --root unless it is /.
PFX=
((REAL)) || PFX=$ROOT
readonly PFX
readonly D_BIN=$PFX$BIN_PATH D_DATA=$PFX$DATA_DIR D_TMP=$PFX$TMP_DIR
readonly D_CONF_DIR=$PFX$CONF_DIR D_CONF=$PFX$CONF_PATH D_UNIT=$PFX$UNIT_PATH

umask 022

# Temporary file currently being written; removed if we exit early.
PENDING_TMP=
cleanup() {
    if [[ -n $PENDING_TMP ]]; then
        rm -f -- "$PENDING_TMP"
    fi
}
trap cleanup EXIT

# install_file DEST MODE OWNER:GROUP  (content on stdin)
# Writes to a temp file in the destination directory, then renames it into
# place, so readers (and a running service) never see a half-written file.
install_file() {
    local dest=$1 mode=$2 owner=$3 tmp
    tmp=$(mktemp -- "$(dirname -- "$dest")/.$(basename -- "$dest").XXXXXX")
    PENDING_TMP=$tmp
    cat >"$tmp"
    chmod -- "$mode" "$tmp"
    if ((REAL)); then
        chown -- "$owner" "$tmp"
    fi
    mv -f -- "$tmp" "$dest"
    PENDING_TMP=
}

# make_dir DIR MODE OWNER:GROUP  (idempotent; fixes mode/owner of existing dirs).
# Only for directories VideoApi owns; shared parents use plain mkdir -p.
make_dir() {
    local dir=$1 mode=$2 owner=$3
    mkdir -p -- "$dir"
    chmod -- "$mode" "$dir"
    if ((REAL)); then
        chown -- "$owner" "$dir"
    fi
}

# ---------------------------------------------------------------- user -------

if ((REAL)); then
    if id -u "$SVC_USER" >/dev/null 2>&1; then
        say "system user '$SVC_USER' already exists"
    else
        command -v useradd >/dev/null 2>&1 || die 1 "useradd not found; create the system user '$SVC_USER' manually and re-run"
        nologin=/usr/sbin/nologin
        [[ -x $nologin ]] || nologin=/sbin/nologin
        [[ -x $nologin ]] || nologin=/bin/false
        group_opt=(--user-group)
        if getent group "$SVC_GROUP" >/dev/null 2>&1; then
            group_opt=(--gid "$SVC_GROUP")
        fi
        useradd --system "${group_opt[@]}" --home-dir "$DATA_DIR" --no-create-home \
            --shell "$nologin" --comment "VideoApi service" "$SVC_USER"
        say "created system user '$SVC_USER' (home $DATA_DIR, shell $nologin)"
    fi
else
    say "root is $ROOT (not /): skipping useradd and chown; files are owned by the invoking user"
fi

# ---------------------------------------------------------------- files ------

mkdir -p -- "$PFX/usr/local/bin"
install_file "$D_BIN" 0755 root:root <"$BINARY"
say "installed binary  -> $D_BIN"

mkdir -p -- "$PFX/var/lib"
make_dir "$D_DATA" 0750 "$SVC_USER:$SVC_GROUP"
make_dir "$D_TMP" 0750 "$SVC_USER:$SVC_GROUP"
say "data directory    -> $D_DATA (temp files in $D_TMP)"

# The service reads its config but cannot change it: root-owned, group-readable.
make_dir "$D_CONF_DIR" 0750 "root:$SVC_GROUP"
if [[ -e $D_CONF ]]; then
    say "config file       -> $D_CONF (exists, left untouched)"
else
    install_file "$D_CONF" 0640 "root:$SVC_GROUP" <<'EOF'
# VideoApi configuration. Environment variables VIDEOAPI_* and command-line flags override these values.
# Every key: README.md, "Configuration". Behind nginx or Caddy: README.md,
# "Deploying behind a reverse proxy".
listen = "127.0.0.1:8080"
data_dir = "/var/lib/videoapi"

# The built-in demo provider and its "Video 2.0 Mini" models answer with sample videos
# while charging real credits, so they are off in production. To try VideoApi without an
# upstream account, set demo = true and restart; set it back to false before serving
# customers (the demo channel and models are then disabled again; their tasks are kept).
demo = false

# The address customers and upstream providers use to reach this server: the base of every
# upload and video URL. Set it when a reverse proxy (HTTPS) is in front:
# public_url = "https://video.example.com"

# Proxies whose X-Forwarded-For / Forwarded headers are believed (CIDRs; default none).
# Set it when nginx or Caddy on this host forwards to VideoApi:
# trusted_proxies = ["127.0.0.1/32", "::1/128"]

# The first admin's password, read on the first start only (a database without users);
# without it a password is generated and printed once in the journal. A file readable by
# the videoapi group, e.g. (root:videoapi, mode 0640):
# admin_password_file = "/etc/videoapi/admin-password"
# Lost the password later? See README.md, "Running as a service" (admin reset-password).

# Bearer token for /metrics from anything but loopback:
# metrics_token = "a-long-random-string"
# max_upload_mb = 100
# task_deadline_secs = 3600
EOF
    say "config file       -> $D_CONF (new)"
fi

mkdir -p -- "$PFX/etc/systemd/system"
install_file "$D_UNIT" 0644 root:root <<EOF
[Unit]
Description=VideoApi video-generation gateway
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$SVC_USER
Group=$SVC_GROUP
ExecStart=$BIN_PATH serve --config $CONF_PATH
Environment=TMPDIR=$TMP_DIR
Environment=NO_COLOR=1
# Two malloc arenas: with 100 000 unfinished tasks RSS stays at ~137 MiB instead of
# creeping to ~170 MiB across many per-thread arenas (scripts/hold-bench.sh).
Environment=MALLOC_ARENA_MAX=2
Restart=on-failure
RestartSec=2
TimeoutStopSec=30
KillSignal=SIGTERM

# Hardening (systemd-analyze security videoapi: exposure <= 2.0). The service only needs
# its data dir, outgoing and listening TCP, and DNS.
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ReadWritePaths=$DATA_DIR
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateUsers=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
LockPersonality=yes
MemoryDenyWriteExecute=yes
RemoveIPC=yes
KeyringMode=private
DevicePolicy=closed
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
# Data files are for the service alone.
UMask=0077
LimitNOFILE=65535

[Install]
WantedBy=multi-user.target
EOF
say "systemd unit      -> $D_UNIT"

# ---------------------------------------------------------------- systemd ----

STARTED=0
if ((!REAL)); then
    say "root is $ROOT (not /): skipping systemctl daemon-reload/enable/restart"
elif ((NO_START)); then
    say "--no-start given: skipping systemctl daemon-reload/enable/restart"
elif ! command -v systemctl >/dev/null 2>&1; then
    say "systemctl not found: skipping systemctl daemon-reload/enable/restart"
elif [[ ! -d /run/systemd/system ]]; then
    say "systemd is not running on this machine: skipping systemctl daemon-reload/enable/restart"
else
    systemctl daemon-reload
    systemctl enable "$SERVICE"
    # restart (not start) so that re-running the installer picks up a new binary.
    systemctl restart "$SERVICE"
    STARTED=1
    say "service '$SERVICE' enabled and (re)started"
fi

cat <<EOF

VideoApi is installed.
  binary:  $D_BIN
  config:  $D_CONF
  data:    $D_DATA
  unit:    $D_UNIT
EOF
if ((STARTED)); then
    cat <<EOF

  status:  systemctl status $SERVICE
  logs:    journalctl -u $SERVICE -f
EOF
else
    cat <<EOF

To start it (as root, on the target system):
  systemctl daemon-reload && systemctl enable --now $SERVICE
Then follow the logs with: journalctl -u $SERVICE -f
EOF
fi
# The demo sells sample videos for real credits: say plainly whether it is on.
if grep -Eq '^[[:space:]]*demo[[:space:]]*=[[:space:]]*false' "$D_CONF"; then
    cat <<EOF

The demo provider is off (demo = false in $CONF_PATH). To try VideoApi without an
upstream account, set demo = true there and restart the service; set it back to false
before serving customers.
EOF
else
    cat <<EOF

WARNING: the demo provider is ON in $CONF_PATH (demo = true, or no demo key: the
default): its models sell sample videos for real credits. Set demo = false there and
restart the service before serving customers.
EOF
fi
cat <<EOF

On first start the generated admin password is printed once in the journal
(journalctl -u $SERVICE). To choose it yourself, set admin_password_file in
$CONF_PATH before the first start. Lost it later? Stop the service, then:
  sudo -u $SVC_USER $BIN_PATH --config $CONF_PATH admin reset-password admin
Behind nginx or Caddy: set public_url and trusted_proxies (README.md, "Deploying
behind a reverse proxy").
EOF
