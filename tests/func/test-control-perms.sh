#!/bin/bash
# nbdkit xcopy control=: who may use the control socket (PROTOCOL.md §2).
# The socket is 0600 by default, so another uid cannot even connect; where
# the file's mode lets it in anyway, the SO_PEERCRED check refuses it
# with EACCES and logs it.  control-group= makes the socket 0660 in that
# group and lets members in, by primary or supplementary group.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/control-functions.sh"
require_root "running the client as another uid"
requires setpriv

GROUP=users
gid=$(getent group $GROUP | cut -d: -f3) || skip "no group $GROUP"
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
setpriv --reuid=65534 --regid=65534 --clear-groups true || skip "setpriv cannot change uid here"

# Everything the other uid needs must be reachable by it.
chmod 755 "$TMP"
pub=$TMP/pub
mkdir -m 755 "$pub" "$pub/images"
truncate -s 1M "$pub/images/a.img"
"${nobody[@]}" test -x "$CTL_CLIENT" || skip "nobody cannot run $CTL_CLIENT"

# ---- default: 0600, owned by the server's uid
C=$pub/ctl
start_nbdkit_log "$TMP/log" "$TMP/sock" "$TMP/pid" -- dir="$pub/images" control="$C"
[[ $(stat -c '%a %u' "$C") == "600 0" ]] || fail "socket mode/owner: $(stat -c '%a %u' "$C")"
ctl "$C" hello list >/dev/null
out=$("${nobody[@]}" "$CTL_CLIENT" "$C" hello 2>&1) && fail "uid 65534 connected to a 0600 socket: $out"
echo "uid 65534 on a 0600 socket: $out"

# ---- the file mode lets it in: SO_PEERCRED refuses it
chmod 666 "$C"
out=$("${nobody[@]}" "$CTL_CLIENT" "$C" 'hello expect=EACCES' eof 2>&1) ||
  fail "refused peer: $out"
echo "$out"
expect_in "$out" 'op=HELLO .*status=EACCES closing=1 .*msg="peer: uid 65534 may not use this control socket"' "peer refused"
expect_in "$out" '^eof$' "closed after the refusal"
grep -q 'control: refused pid [0-9]* uid 65534 gid 65534' "$TMP/log" || { cat "$TMP/log"; fail "refusal not logged"; }
# In the group, but without control-group=: still refused.
out=$(setpriv --reuid=65534 --regid="$gid" --clear-groups "$CTL_CLIENT" "$C" 'hello expect=EACCES' 2>&1) ||
  fail "group member without control-group=: $out"
ctl "$C" hello list >/dev/null

# ---- control-group=: 0660 in the group, members served
C2=$pub/ctl2
start_nbdkit "$TMP/sock2" "$TMP/pid2" dir="$pub/images" control="$C2" control-group=$GROUP
[[ $(stat -c '%a %g' "$C2") == "660 $gid" ]] || fail "control-group socket: $(stat -c '%a %g' "$C2")"
out=$(setpriv --reuid=65534 --regid="$gid" --clear-groups "$CTL_CLIENT" "$C2" hello 'stat a.img' 2>&1) ||
  fail "primary group member refused: $out"
out=$(setpriv --reuid=65534 --regid=65534 --groups="$gid" "$CTL_CLIENT" "$C2" hello 'stat a.img' 2>&1) ||
  fail "supplementary group member refused: $out"
expect_in "$out" 'export "a.img" size=1048576' "supplementary group member"
out=$("${nobody[@]}" "$CTL_CLIENT" "$C2" hello 2>&1) && fail "non-member connected: $out"
chmod 666 "$C2"
out=$("${nobody[@]}" "$CTL_CLIENT" "$C2" 'hello expect=EACCES' 2>&1) || fail "non-member: $out"
expect_in "$out" 'status=EACCES closing=1' "non-member refused by credentials"

# A group given by number works too.
start_nbdkit "$TMP/sock3" "$TMP/pid3" dir="$pub/images" control="$pub/ctl3" control-group="$gid"
[[ $(stat -c '%a %g' "$pub/ctl3") == "660 $gid" ]] || fail "numeric control-group"
echo OK
