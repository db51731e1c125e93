#!/bin/bash
# Re-creates pmc-3.1.1.txt: runs a real ptp4l as a grandmaster in a private
# network namespace (one veth end, software timestamping, uds_address in a
# temporary directory), puts relay.py between pmc and ptp4l and logs every
# datagram. Needs root. Nothing leaves the namespace.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/pmc-3.1.1.txt}
tag=vmcc$$
tmp=$(mktemp -d)
relay_pid=""; ptp_pid=""
cleanup() {
  [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null || true
  [ -n "$ptp_pid" ] && kill "$ptp_pid" 2>/dev/null || true
  ip netns del "$tag" 2>/dev/null || true
  ip link del "${tag}b" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$tag"
ip link add "${tag}a" type veth peer name "${tag}b"
ip link set "${tag}a" netns "$tag"
ip -n "$tag" link set lo up
ip -n "$tag" link set "${tag}a" up
cat > "$tmp/gm.conf" <<CONF
[global]
network_transport L2
time_stamping software
free_running 1
masterOnly 1
uds_address $tmp/ptp4l
CONF
ip netns exec "$tag" ptp4l -f "$tmp/gm.conf" -i "${tag}a" -q &
ptp_pid=$!
for _ in $(seq 50); do [ -S "$tmp/ptp4l" ] && break; sleep 0.1; done
: > "$tmp/log"
python3 "$here/relay.py" "$tmp/relay" "$tmp/ptp4l" "$tmp/log" 120 &
relay_pid=$!
for _ in $(seq 50); do [ -S "$tmp/relay" ] && break; sleep 0.1; done

# The clock identity comes from the veth's random MAC: learn it for TARGET.
clock_id=$(ip netns exec "$tag" pmc -u -b 0 -s "$tmp/ptp4l" -i "$tmp/probe" "GET DEFAULT_DATA_SET" |
           awk '$1 == "clockIdentity" {print $2}')

run() {  # one pmc invocation, its commands as arguments
  echo "# pmc -u -b 0 $*" >> "$tmp/log"
  ip netns exec "$tag" pmc -u -b 0 -s "$tmp/relay" -i "$tmp/pmc" "$@" 2>&1 | sed 's/^/#| /' > "$tmp/shown"
  sleep 0.2   # let the relay log the reply before pmc's output
  cat "$tmp/shown" >> "$tmp/log"
}
run "GET GRANDMASTER_SETTINGS_NP"
run "SET GRANDMASTER_SETTINGS_NP clockClass 6 clockAccuracy 0x21 offsetScaledLogVariance 0x4e5d currentUtcOffset 37 leap61 0 leap59 0 currentUtcOffsetValid 1 ptpTimescale 0 timeTraceable 1 frequencyTraceable 1 timeSource 0x90"
run "GET GRANDMASTER_SETTINGS_NP"
run "GET TIME_PROPERTIES_DATA_SET"
run "GET PARENT_DATA_SET"
run "GET PORT_DATA_SET"
run "SET GRANDMASTER_SETTINGS_NP clockClass 248 clockAccuracy 0xfe offsetScaledLogVariance 0xffff currentUtcOffset 37 leap61 1 leap59 0 currentUtcOffsetValid 0 ptpTimescale 0 timeTraceable 0 frequencyTraceable 0 timeSource 0xa0"
run "SET GRANDMASTER_SETTINGS_NP clockClass 7 clockAccuracy 0x31 offsetScaledLogVariance 0x8000 currentUtcOffset -2 leap61 0 leap59 1 currentUtcOffsetValid 1 ptpTimescale 1 timeTraceable 0 frequencyTraceable 1 timeSource 0x10"
run "GET TIME_PROPERTIES_DATA_SET"
# A port that does not exist: ptp4l answers MANAGEMENT_ERROR_STATUS WRONG_VALUE.
run "TARGET $clock_id-7" "GET PORT_DATA_SET"
{
  echo "# Captured $(date -u +%Y-%m-%d) by tests/ptp-captures/capture.sh"
  echo "# $(ptp4l -v 2>&1 | sed 's/^/ptp4l /') ; lines: '# pmc ...' command, 'req'/'rsp' datagram hex, '#|' pmc output"
  cat "$tmp/log"
} > "$out"
echo "wrote $out"
