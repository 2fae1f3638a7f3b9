#!/bin/bash
# iSCSI login security: one-way and mutual CHAP (right and wrong
# secrets), the initiator ACL, and header digests, through libiscsi.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/iscsi-functions.sh"
requires_libiscsi

truncate -s 8M "$TMP/lun0.img"
start_iscsi --portal 127.0.0.1:0 --iqn "$IQN" --lun 0="$TMP/lun0.img" \
            --chap alice:secretsecret12 --mutual tgt:othersecret123 \
            --acl "$INI" --acl iqn.2024-01.test:init2
base="127.0.0.1:$ISCSI_PORT/$IQN/0"

# expect_login WANT(ok|REGEX) ARGS...: iscsi-inq must work, or fail
# printing REGEX.
expect_login () {
  local want=$1 out rc=0; shift
  out=$(timeout 60 iscsi-inq "$@" 2>&1) || rc=$?
  echo "$out"
  if [[ $want == ok ]]; then
    (( rc == 0 )) && grep -q "Vendor:XCOPYD" <<<"$out" || fail "login should work: $*"
  else
    (( rc != 0 )) && grep -qE "$want" <<<"$out" || fail "expected /$want/: $*"
  fi
}

expect_login ok -i "$INI" "iscsi://alice%secretsecret12@$base"
expect_login ok -i iqn.2024-01.test:init2 "iscsi://alice%secretsecret12@$base?header_digest=crc32c"
expect_login 'Authentication failure' -i "$INI" "iscsi://alice%secretsecret13@$base"
expect_login 'Authentication failure' -i "$INI" "iscsi://bob%secretsecret12@$base"
expect_login 'Authentication failure' -i "$INI" "iscsi://$base"
expect_login 'Authorization failure' -i iqn.2024-01.test:intruder "iscsi://alice%secretsecret12@$base"
# Mutual CHAP: the target proves it knows its secret.
expect_login ok -i "$INI" "iscsi://alice%secretsecret12@$base?target_user=tgt&target_password=othersecret123"
expect_login 'Invalid CHAP_R' -i "$INI" "iscsi://alice%secretsecret12@$base?target_user=tgt&target_password=wrongsecret99"
# The same through libiscsi's environment variables.
LIBISCSI_CHAP_USERNAME=alice LIBISCSI_CHAP_PASSWORD=secretsecret12 \
LIBISCSI_CHAP_TARGET_USERNAME=tgt LIBISCSI_CHAP_TARGET_PASSWORD=othersecret123 \
  expect_login ok -i "$INI" "iscsi://$base"
# Discovery needs no CHAP here, but lists the target only to the ACL.
out=$(timeout 60 iscsi-ls -i "$INI" "iscsi://127.0.0.1:$ISCSI_PORT")
grep -q "Target:$IQN" <<<"$out" || fail "discovery by an allowed initiator"
out=$(timeout 60 iscsi-ls -i iqn.2024-01.test:intruder "iscsi://127.0.0.1:$ISCSI_PORT" 2>&1) || true
grep -q "Target:$IQN" <<<"$out" && fail "discovery shows the target to an intruder"
echo OK
