# bench/run's iSCSI sections (issue 5): EXTENDED COPY of 1 GiB end to end
# through xcopyd, and xcopyd's data path against tgtd on the same image.
# Sourced by bench/run after its helpers (out, goal, ratio, fmt_ms, kv,
# median, max, skip, setup_xfs) and bench/iscsi-targets.sh.
#
# Knobs: ISCSI_SECONDS (seconds per load run, default 3), ISCSI_ROUNDS
# (rounds of xcopyd, tgtd, tgtd, xcopyd per pattern, default 2),
# ISCSI_XCOPY_REPS (runs per copy method, default 3).

ISCSI_SECONDS=${ISCSI_SECONDS:-3}
ISCSI_ROUNDS=${ISCSI_ROUNDS:-2}
ISCSI_XCOPY_REPS=${ISCSI_XCOPY_REPS:-3}
ILOAD=$TOP/$BUILD/bench/iscsi-load
IXCOPY=$TOP/$BUILD/bench/iscsi-xcopy

# iscsi_image DIR: DIR/iscsi.img, 3 GiB with 1 GiB of data at its start
# (the copies go to 1 GiB and 2 GiB).
iscsi_image () {
  rm -f "$1/iscsi.img"
  "$BENCH" mkfile "$1/iscsi.img" 1G
  truncate -s 3G "$1/iscsi.img"
  echo "$1/iscsi.img"
}

# bench_iscsi_xcopy DIR LABEL PEER GOAL: EXTENDED COPY of 1 GiB through
# xcopyd against PEER (rw: READ+WRITE through the same target; raw:
# copy_file_range on the image), each verified byte for byte.
bench_iscsi_xcopy () {
  local dir=$1 label=$2 peer=$3 lim=$4 img line xm pm r stat=best
  [[ $STAT == median ]] && stat=median
  img=$(iscsi_image "$dir")
  start_target xcopyd "$img" || { skip "iscsi xcopy $label" "xcopyd did not start"; return; }
  if ! line=$("$IXCOPY" --url "$TARGET_URL" --image "$img" --len 1G \
                --method xcopy:1G --method "$peer:2G" --reps "$ISCSI_XCOPY_REPS"); then
    stop_target xcopyd
    skip "iscsi xcopy $label" "iscsi-xcopy failed"
    return
  fi
  stop_target xcopyd
  rm -f "$img"
  xm=$(kv "xcopy_${stat}_ms" "$line"); pm=$(kv "${peer}_${stat}_ms" "$line")
  r=$(ratio "$pm" "$xm")
  if [[ $peer == rw ]]; then
    goal "iscsi xcopy 1GiB $label rw/xcopy" "$r" ">=" "$lim"
    out "iscsi xcopy 1GiB $label: EXTENDED COPY $(fmt_ms "$xm"), READ+WRITE through the target $(fmt_ms "$pm") => rw/xcopy $r $G  [$(kv segments "$line") segments in $(kv commands "$line") commands, verified]"
  else
    goal "iscsi xcopy 1GiB $label raw/xcopy" "$r" ">=" "$lim"
    out "iscsi xcopy 1GiB $label: EXTENDED COPY $(fmt_ms "$xm"), raw copy_file_range $(fmt_ms "$pm") => raw/xcopy $r $G  [$(kv segments "$line") segments in $(kv commands "$line") commands, verified]"
  fi
}

# iload URL PATTERN BS: IOPS (4k) or MiB/s (1M) of one run.
iload () {
  local line
  line=$("$ILOAD" --url "$1" --pattern "$2" --bs "$3" --qd 32 \
           --seconds "$ISCSI_SECONDS" --ramp 1) || { echo 0; return; }
  if [[ $3 == 4096 ]]; then kv iops "$line"; else kv mibps "$line"; fi
}

# iscsi_job LABEL PATTERN BS UNIT: rounds of xcopyd, tgtd, tgtd, xcopyd.
iscsi_job () {
  local label=$1 pat=$2 bs=$3 unit=$4 i v x=() t=() r=() xv tv rr
  for (( i = 0; i < ISCSI_ROUNDS; i++ )); do
    v=("$(iload "${TARGET_URLS[xcopyd]}" "$pat" "$bs")"
       "$(iload "${TARGET_URLS[tgtd]}" "$pat" "$bs")"
       "$(iload "${TARGET_URLS[tgtd]}" "$pat" "$bs")"
       "$(iload "${TARGET_URLS[xcopyd]}" "$pat" "$bs")")
    x+=("${v[0]}" "${v[3]}"); t+=("${v[1]}" "${v[2]}")
    r+=("$(awk -v a="${v[0]}" -v b="${v[3]}" -v c="${v[1]}" -v d="${v[2]}" \
             'BEGIN { print (c + d > 0 ? (a + b) / (c + d) : 0) }')")
  done
  if [[ $STAT == best ]]; then
    xv=$(max "${x[@]}"); tv=$(max "${t[@]}"); rr=$(ratio "$xv" "$tv")
  else
    xv=$(median "${x[@]}"); tv=$(median "${t[@]}"); rr=$(ratio "$(median "${r[@]}")" 1)
  fi
  goal "iscsi $label xcopyd/tgtd" "$rr" ">=" 1.0
  out "iscsi $label: xcopyd $(printf '%.0f' "$xv") $unit, tgtd $(printf '%.0f' "$tv") $unit => xcopyd/tgtd $rr $G  [runs: xcopyd ${x[*]}; tgtd ${t[*]}]"
}

# The memory of xcopyd and of the nbdkit it supervises, in MiB.
iscsi_mem () {
  local pid=${TARGET_PIDS[xcopyd]} kid field=$1 a b
  kid=$(pgrep -P "$pid" -x nbdkit | head -n 1 || true)
  a=$(mem_kib "$pid" "$field"); b=$([[ -n $kid ]] && mem_kib "$kid" "$field" || echo 0)
  awk -v a="$a" -v b="$b" 'BEGIN { printf "xcopyd %.1f MiB + nbdkit %.1f MiB", a / 1024, b / 1024 }'
}

bench_iscsi_data () {
  local img=$SCRATCH/iscsi-data.img idle
  "$BENCH" mkfile "$img" 1G
  start_target xcopyd "$img" || { skip "iscsi data path" "xcopyd did not start"; return; }
  start_target tgtd "$img" || { stop_targets; skip "iscsi data path" "tgtd did not start"; return; }
  sleep 1
  idle=$(iscsi_mem VmRSS)
  iscsi_job "4k randread QD32" randread 4096 IOPS
  iscsi_job "4k randwrite QD32" randwrite 4096 IOPS
  iscsi_job "1M seqread QD32" seqread 1048576 MiB/s
  iscsi_job "1M seqwrite QD32" seqwrite 1048576 MiB/s
  out "xcopyd memory: idle RSS $idle; peak RSS under this load $(iscsi_mem VmHWM); tgtd peak RSS $(awk -v a="$(mem_kib "${TARGET_PIDS[tgtd]}" VmHWM)" 'BEGIN { printf "%.1f MiB", a / 1024 }') (no goal)"
  stop_targets
  rm -f "$img"
}

# bench_iscsi: both sections, skipping what this machine cannot run.
bench_iscsi () {
  heading "iSCSI: EXTENDED COPY of 1 GiB through xcopyd, end to end ($ISCSI_XCOPY_REPS runs per method, $STAT)"
  if [[ ! -x $XCOPYD_BIN || ! -f $PLUGIN || ! -x $IXCOPY ]]; then
    skip "iscsi xcopy" "xcopyd, the plugin or bench/iscsi-xcopy not built"
  else
    if [[ -n $XFS_MNT ]]; then bench_iscsi_xcopy "$XFS_MNT" xfs-reflink rw 200
    else skip "iscsi xcopy xfs-reflink" "${XFS_WHY:-no XFS}"; fi
    bench_iscsi_xcopy "$SCRATCH" "$fs" raw 0.9
  fi

  heading "iSCSI data path: xcopyd vs tgtd on one 1 GiB image, $ISCSI_ROUNDS rounds of xcopyd, tgtd, tgtd, xcopyd; ${ISCSI_SECONDS}s runs; $STAT"
  if [[ ! -x $XCOPYD_BIN || ! -x $ILOAD ]]; then
    skip "iscsi data path" "xcopyd or bench/iscsi-load not built"
  elif ! command -v tgtd >/dev/null; then
    skip "iscsi data path" "tgtd (Debian package tgt) not installed"
  else
    bench_iscsi_data
  fi
}
