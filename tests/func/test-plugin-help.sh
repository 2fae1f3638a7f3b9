#!/bin/bash
# nbdkit xcopy: --help lists every parameter .config accepts, the man page
# documents every one (and no others), and --dump-plugin's own lines are
# documented too.
source "$(dirname "$0")/functions.sh"
requires nbdkit
requires pod2text

src=$TOP/plugin/xcopy.c
pod=$TOP/plugin/nbdkit-xcopy-plugin.pod

# The parameters .config accepts: the keys of its params[] table.
keys=$(sed -n '/^} params\[\] = {/,/^};/ s/^ *{ *"\([a-z_-]*\)",.*/\1/p' "$src" | sort)
echo "keys in the source: " $keys
(( $(wc -w <<<"$keys") >= 3 )) || fail "could not read the params table"

help=$(run_nbdkit --help 2>&1)
help_keys=$(sed -n 's/^\([a-z_-]*\)=.*/\1/p' <<<"$help" | sort -u)
echo "keys in --help: " $help_keys
[[ $help_keys == "$keys" ]] || fail "--help lists '$help_keys', source has '$keys'"

# The PARAMETERS section of the man page: one =item per key, no others.
pod_keys=$(sed -n '/^=head1 PARAMETERS/,/^=head1 / s/^=item B<\([a-z_-]*\)=.*/\1/p' "$pod" | sort -u)
echo "keys in the man page: " $pod_keys
[[ $pod_keys == "$keys" ]] || fail "man page documents '$pod_keys', source has '$keys'"

# And the rendered page says so (pod2text, and the built page if any).
text=$(pod2text "$pod")
man1=$TOP/$BUILD/nbdkit-xcopy-plugin.1
if [[ -f $man1 ]] && command -v man >/dev/null; then
  text+=$(MANWIDTH=80 man -l "$man1" 2>/dev/null | col -b)
fi
for k in $keys; do
  grep -q "^ *$k=" <<<"$text" || fail "rendered man page lacks '$k='"
done

# --dump-plugin: the plugin's own lines, each documented.
dump=$(run_nbdkit --dump-plugin)
grep -q '^xcopy_version=' <<<"$dump" || fail "no xcopy_version in --dump-plugin"
grep -q '^thread_model=parallel' <<<"$dump" || fail "thread model is not parallel"
for k in $(sed -n 's/^\(xcopy_[a-z_-]*\)=.*/\1/p' <<<"$dump"); do
  grep -q "C<$k=" "$pod" || fail "--dump-plugin's $k is not in the man page"
done
echo OK
