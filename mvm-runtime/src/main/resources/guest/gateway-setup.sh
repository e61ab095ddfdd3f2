#!/bin/sh
# mvm gateway role, guest side: applies /etc/mvm-config/gateway.json (rendered by the host, see
# docs/networking.md). Turns IPv4 forwarding on and installs the listed routes. Idempotent: run it
# at every boot and after every config-drive refresh. Needs only busybox sh, sed, grep and ip.
set -eu

config=${1:-/etc/mvm-config/gateway.json}
log() { echo "gateway-setup: $*" >&2; }

if [ ! -r "$config" ]; then
    log "$config not found; is the config drive mounted?"
    exit 1
fi

# The host writes one key per line and one route object per line, so sed can read it without a
# JSON parser; anything else is refused rather than half-applied.
version=$(sed -n 's/^ *"version": *\([0-9][0-9]*\),*$/\1/p' "$config")
if [ "$version" != "1" ]; then
    log "unsupported gateway.json version '${version}' (expected 1)"
    exit 1
fi

if grep -q '^ *"ip_forward": *true' "$config"; then
    echo 1 > /proc/sys/net/ipv4/ip_forward
    log "ip_forward on"
else
    echo 0 > /proc/sys/net/ipv4/ip_forward
    log "ip_forward off"
fi

routes=$(sed -n 's/^ *{"destination": *"\([0-9./]*\)", *"via": *"\([0-9.]*\)"},*$/\1 \2/p' "$config")
count=0
if [ -n "$routes" ]; then
    echo "$routes" | while read -r destination via; do
        ip route replace "$destination" via "$via"
        log "route $destination via $via"
    done
    count=$(echo "$routes" | wc -l)
fi
log "applied $count route(s) from $config"
