# xcopyd: read an iscsi-test-cu log (CUnit's verbose console output) and
# print one verdict per test, then CUnit's own counts:
#
#   PASS Suite.Test
#   SKIP Suite.Test<TAB>the [SKIPPED] message
#   FAIL Suite.Test<TAB>the [FAILED] message or CUnit's failed assertion
#   CUNIT suites RAN FAILED tests RAN PASSED FAILED
#
#   NOTE Suite.Test<TAB>a [FAILED] message of a passing test, or printed
#        after a test's verdict
#
# CUnit counts a skipped test as passed: libiscsi's tests log
# "[SKIPPED] why" and return, so a skip is a passed test whose output has
# a [SKIPPED] line before its verdict (or "SWP is not changeable", the one
# skip logged without it).  Skips the tool reports only through CU_PASS
# never reach the log; the conformance tests size their LUs so that those
# (LUN too big or too small) cannot happen.  A test fails when CUnit says
# FAILED.  A passing test that logged "[FAILED]" also gets a NOTE line:
# the tool's command helpers log so whenever a command fails, also in
# probes that want it to fail.
#
# A test's output starts on its "Test: NAME ..." line; CUnit's verdict
# (passed/FAILED) sits at the end of that line or at the start of a later
# one.  What follows the verdict up to the next test is not the test's
# own: the tool's per-suite set-up prints there (its PERSISTENT RESERVE
# probe logs "[SKIPPED] ..." on every suite).  CUnit's list of failed
# assertions, which follows a FAILED verdict, still counts.
#
# Without a "Run Summary" (the tool crashed or was killed) the CUNIT line
# says "CUNIT incomplete".

function flush_test(   v, why) {
  if (test == "")
    return
  if (verdict == "FAILED") {
    v = "FAIL"
    why = failed_msg != "" ? failed_msg : assertion
    if (why == "")
      why = "CUnit verdict FAILED"
  } else if (verdict == "passed" && failed_msg != "" && skipped_msg == "") {
    # A passing test that logged [FAILED]: a probe that expects a command
    # to fail calls a helper that logs when it does (iSCSIDataSnInvalid).
    printf "NOTE %s.%s\t(passed, but logged) %s\n", suite, test, failed_msg
    v = "PASS"
    why = ""
  } else if (verdict == "passed" && skipped_msg != "") {
    v = "SKIP"
    why = skipped_msg
  } else if (verdict == "passed") {
    v = "PASS"
    why = ""
  } else {
    v = "FAIL"
    why = "no verdict in the log (crashed or hung?)"
  }
  printf "%s %s.%s%s\n", v, suite, test, why != "" ? "\t" why : ""
  test = ""
}

# Messages of the test itself: everything up to CUnit's verdict.
function test_msg(line,   m) {
  if (skipped_msg == "" && match(line, /\[SKIPPED\].*/)) {
    m = substr(line, RSTART, RLENGTH)
    sub(/[[:space:]]+$/, "", m)
    skipped_msg = m
  }
  # ModeSense6.Control-SWP skips with only this line (and a CU_PASS).
  if (skipped_msg == "" && match(line, /SWP is not changeable.*/))
    skipped_msg = "[SKIPPED] " substr(line, RSTART, RLENGTH)
  if (failed_msg == "" && match(line, /\[FAILED\].*/)) {
    m = substr(line, RSTART, RLENGTH)
    sub(/[[:space:]]+$/, "", m)
    failed_msg = m
  }
}

# Output after the verdict: a [FAILED] there is reported as a NOTE.
function between_msg(line,   m) {
  if (match(line, /\[FAILED\].*/)) {
    m = substr(line, RSTART, RLENGTH)
    sub(/[[:space:]]+$/, "", m)
    printf "NOTE %s.%s\t(after the test) %s\n", suite, test, m
  }
}

function note(line,   m, pre, post) {
  # CUnit's list of failed assertions: "    1. file.c:38  - CU_ASSERT..."
  if (assertion == "" && line ~ /^[[:space:]]+[0-9]+\. [^ ]+:[0-9]+/) {
    m = line
    sub(/^[[:space:]]+/, "", m)
    assertion = m
    return
  }
  if (verdict != "") {
    between_msg(line)
    return
  }
  # CUnit's verdict: "...passed" / "...FAILED" right after the test name,
  # or the word at the start of a line of its own; what follows it on the
  # line is output of what runs next.
  if (match(line, /\.\.\.(passed|FAILED)/)) {
    verdict = substr(line, RSTART + 3, RLENGTH - 3)
    pre = substr(line, 1, RSTART - 1)
    post = substr(line, RSTART + RLENGTH)
  } else if (match(line, /^(passed|FAILED)/)) {
    verdict = substr(line, 1, RLENGTH)
    pre = ""
    post = substr(line, RLENGTH + 1)
  } else {
    test_msg(line)
    return
  }
  test_msg(pre)
  between_msg(post)
}

/^Suite: / {
  flush_test()
  suite = substr($0, 8)
  sub(/[[:space:]]+$/, "", suite)
  next
}

/^  Test: / {
  flush_test()
  rest = substr($0, 9)
  i = index(rest, " ...")
  test = i ? substr(rest, 1, i - 1) : rest
  verdict = skipped_msg = failed_msg = assertion = ""
  note(i ? substr(rest, i + 1) : "")
  next
}

/^Run Summary:/ {
  flush_test()
  in_summary = 1
  next
}

in_summary && $1 == "suites" {
  # suites  Total  Ran  Passed(n/a)  Failed  Inactive
  s_ran = $3; s_failed = $5
  next
}

in_summary && $1 == "tests" {
  # tests  Total  Ran  Passed  Failed  Inactive
  t_ran = $3; t_passed = $4; t_failed = $5
  have_summary = 1
  next
}

# Output of a suite's init/cleanup, e.g. "Suite X, Test Y had failures" or
# "Suite initialization failed", lands outside a test block.
test == "" && /[Ss]uite .*(failed|FAILED)/ {
  printf "FAIL %s.(suite)\t%s\n", suite, $0
  next
}

test != "" { note($0) }

END {
  flush_test()
  if (have_summary)
    printf "CUNIT suites %d %d tests %d %d %d\n", s_ran, s_failed,
           t_ran, t_passed, t_failed
  else
    print "CUNIT incomplete"
}
