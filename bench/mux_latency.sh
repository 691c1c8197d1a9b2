#!/bin/bash
# Usage (as root, after `cargo build --release --bin oxssh`): bench/mux_latency.sh </dev/null
# Starts a private sshd on a free loopback port; N=20 runs of each case by default.
# Wall-clock latency of `true`: fresh connections vs through a ControlMaster.
set -u
OX=${OX:-$(dirname "$0")/../target/release/oxssh}
N=${N:-20}
D=$(mktemp -d)
ssh-keygen -q -t ed25519 -N '' -f $D/host; ssh-keygen -q -t ed25519 -N '' -f $D/id
cp $D/id.pub $D/authorized_keys
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > $D/sshd_config <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $D/host
AuthorizedKeysFile $D/authorized_keys
PidFile $D/pid
StrictModes no
UsePAM no
EOF
/usr/sbin/sshd -f $D/sshd_config -D -e 2>$D/log &
SSHD=$!
sleep 0.5
COMMON="-F /dev/null -i $D/id -o UserKnownHostsFile=$D/kh -o StrictHostKeyChecking=accept-new -o BatchMode=yes -p $PORT root@127.0.0.1"
t() { # label, command...
  local label=$1; shift
  "$@" true >/dev/null 2>&1 || { echo "$label: FAILED"; return; }
  local s=$(date +%s%N)
  for i in $(seq $N); do "$@" true >/dev/null 2>&1; done
  local e=$(date +%s%N)
  echo "$label: $(( (e - s) / N / 1000 )) us per run (mean of $N)"
}
t "oxssh fresh" $OX $COMMON
t "ssh   fresh" ssh $COMMON
$OX -M -N -S $D/oxm $COMMON >/dev/null 2>&1 &
OXM=$!
for i in $(seq 100); do [ -S $D/oxm ] && break; sleep 0.05; done
t "oxssh via oxssh master" $OX -S $D/oxm $COMMON
t "ssh   via oxssh master" ssh -S $D/oxm $COMMON
ssh -M -N -S $D/sm $COMMON >/dev/null 2>&1 &
SM=$!
for i in $(seq 100); do [ -S $D/sm ] && break; sleep 0.05; done
t "oxssh via ssh master" $OX -S $D/sm $COMMON
t "ssh   via ssh master" ssh -S $D/sm $COMMON
kill $OXM $SM $SSHD 2>/dev/null
wait 2>/dev/null
rm -rf $D
