#!/bin/bash
# xcopyctl: --help lists every command, each command's --help its options,
# and the man page (docs/xcopyctl.pod) documents exactly those commands,
# options and exit codes; the built page renders them.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/xcopyctl-functions.sh"
requires pod2text

pod=$TOP/docs/xcopyctl.pod
podchecker "$pod" 2>&1 | grep -q "pod syntax OK" || fail "podchecker: $pod"

# Long options (without --) of a --help text, sorted.
long_opts () { { grep -oE -- '--[a-z][a-z-]*' || true; } | sed 's/^--//' | sort -u; }

# The POD between a heading and the next heading of that level or above.
pod_section () {
  awk -v h="$1" '
    index ($0, h) == 1 { on = 1; next }
    on && /^=head[12] / { exit }
    on { print }' "$pod"
}

# Options a POD section documents: "=item B<--name>..." lines.
pod_opts () {
  { grep '^=item ' || true; } | { grep -oE -- 'B<--[a-z-]+' || true; } |
    sed 's/^B<--//' | sort -u
}

help=$(xcopyctl --help)
cmds=$(sed -n '/^Commands:/,/^$/ s/^  \([a-z]*\) .*/\1/p' <<<"$help" | sort)
echo "commands in --help: " $cmds
(( $(wc -w <<<"$cmds") == 14 )) || fail "expected 14 commands in --help"
pod_cmds=$(sed -n '/^=head1 COMMANDS/,/^=head1 / s/^=head2 B<\([a-z]*\)>.*/\1/p' "$pod" | sort)
[[ $pod_cmds == "$cmds" ]] || fail "man page commands '$pod_cmds', --help '$cmds'"

# Global options: --help's, and the man page's GLOBAL OPTIONS.
global=$(long_opts <<<"$(sed -n '/^Application Options:/,/^$/p;/^Help Options:/,/^$/p' <<<"$help")")
echo "global options: " $global
pod_global=$(pod_section "=head1 GLOBAL OPTIONS" | pod_opts)
[[ $pod_global == "$global" ]] ||
  fail "GLOBAL OPTIONS documents '$pod_global', --help has '$global'"

# Each command: its own options (its --help minus the global ones) are
# the =items of its section, and the SYNOPSIS mentions each.
for c in $cmds; do
  run_ctl 0 "$c" --help
  out_has "xcopyctl $c"
  own=$(comm -23 <(long_opts <"$TMP/out") <(echo "$global"))
  doc=$(pod_section "=head2 B<$c>" | pod_opts)
  echo "$c: --help '$(echo $own)', man page '$(echo $doc)'"
  [[ $doc == "$own" ]] || fail "$c: man page '$doc', --help '$own'"
  for o in $own; do
    sed -n '/^=head1 SYNOPSIS/,/^=head1 /p' "$pod" | grep -q -- "^ xcopyctl $c .*--$o" ||
      sed -n '/^=head1 SYNOPSIS/,/^=head1 /p' "$pod" | grep -A1 -- "^ xcopyctl $c " |
        grep -q -- "--$o" || fail "SYNOPSIS: $c lacks --$o"
  done
done

# Exit codes: --help's list and the man page's EXIT STATUS agree, and the
# source's enum has the same values.
codes=$(sed -n '/^Exit status:/,/^$/ s/^  \([0-9]*\) .*/\1/p' <<<"$help" | sort -n)
pod_codes=$(pod_section "=head1 EXIT STATUS" | sed -n 's/^=item B<\([0-9]*\)>/\1/p' | sort -n)
src_codes=$(sed -n 's/^ *CTL_EXIT_[A-Z]* = \([0-9]*\),.*/\1/p' \
            "$TOP/daemon/xcopyctl/xcopyctl.h" | sort -n)
echo "exit codes: --help" $codes "; man page" $pod_codes "; source" $src_codes
[[ $(echo $codes) == "0 1 2 3 4 130" ]] || fail "--help exit codes: $codes"
[[ $pod_codes == "$codes" ]] || fail "man page exit codes: $pod_codes"
[[ $src_codes == "$codes" ]] || fail "source exit codes: $src_codes"

# The rendered page (pod2text, and the built man page when there is one).
text=$(pod2text "$pod")
man1=$TOP/$BUILD/xcopyctl.1
if [[ -f $man1 ]] && command -v man >/dev/null; then
  text+=$(MANWIDTH=100 man -l "$man1" 2>/dev/null | col -b)
fi
for c in $cmds; do
  grep -q "^ *xcopyctl $c" <<<"$text" || fail "rendered page lacks 'xcopyctl $c'"
done
for o in $global $(for c in $cmds; do xcopyctl "$c" --help | long_opts; done | sort -u); do
  grep -q -- "--$o" <<<"$text" || fail "rendered page lacks --$o"
done
echo OK
