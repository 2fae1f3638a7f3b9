/* xcopyctl: long operations and jobs (PROTOCOL.md §8).
 *
 * A long operation (COPY FILL ZERO UNMAP CLONE) runs one of three ways:
 * as one synchronous request; with --async as a job whose id is printed at
 * once; with --wait as a job this process polls with JOB_STATUS until it
 * ends, drawing a progress bar on a terminal.  While waiting for a job it
 * started, Ctrl-C (or SIGTERM) sends JOB_CANCEL: the server stops the job
 * at its next range or piece boundary and reports exactly how far it got,
 * and xcopyctl prints that and exits 130.  A second Ctrl-C kills xcopyctl
 * at once.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "xcopyctl.h"

static volatile sig_atomic_t interrupted;

static void
on_signal (int sig)
{
  interrupted = sig;
}

static void
catch_signals (bool on)
{
  struct sigaction sa = {
    .sa_handler = on ? on_signal : SIG_DFL,
    .sa_flags = SA_RESETHAND,           /* a second Ctrl-C kills */
  };

  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
}

static void
sleep_ms (unsigned ms)
{
  struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000 };

  nanosleep (&ts, NULL);        /* a signal ends it early: fine */
}

static bool
job_ended (const struct xcopy_proto_job *j)
{
  return j->state == XCOPY_PROTO_JOB_DONE ||
    j->state == XCOPY_PROTO_JOB_FAILED ||
    j->state == XCOPY_PROTO_JOB_CANCELLED;
}

/* JOB_STATUS or JOB_CANCEL for one job: its entry in *job. */
static bool
job_call (struct ctl *ctl, uint16_t opcode, uint64_t id,
          struct xcopy_proto_job *job, GError **error)
{
  struct xcopy_proto_request req = { .opcode = opcode, .u.job.job_id = id };
  g_auto (CtlReply) rep = { 0 };

  if (!ctl_call (ctl->conn, &req, &rep, error))
    return false;
  if (rep.status) {
    g_autofree char *what = g_strdup_printf ("job %ju", (uintmax_t) id);

    return ctl_reply_error (error, &rep, what);
  }
  if (rep.u.jobs.count != 1 || rep.u.jobs.v[0].job_id != id)
    return ctl_set_error (error, CTL_EXIT_CONNECT, "bad reply: %s of job %ju"
                          " answered with %zu jobs",
                          xcopy_proto_op_name (opcode), (uintmax_t) id,
                          rep.u.jobs.count);
  *job = rep.u.jobs.v[0];
  return true;
}

/* Poll job id until it ends.  With cancel, Ctrl-C cancels it. */
static bool
wait_job (struct ctl *ctl, uint64_t id, bool cancel,
          struct xcopy_proto_job *job, GError **error)
{
  struct ctl_progress bar;
  unsigned delay = 1;
  bool ok = true;

  ctl_progress_init (&bar, ctl);
  interrupted = 0;
  if (cancel)
    catch_signals (true);
  for (;;) {
    if (interrupted) {
      ok = job_call (ctl, XCOPY_OP_JOB_CANCEL, id, job, error);
      break;
    }
    if (!(ok = job_call (ctl, XCOPY_OP_JOB_STATUS, id, job, error)))
      break;
    ctl_progress_draw (&bar, job->result.bytes_done, job->bytes_total);
    if (job_ended (job))
      break;
    sleep_ms (delay);
    delay = MIN (delay * 2, 100u);
  }
  ctl_progress_clear (&bar);
  if (cancel)
    catch_signals (false);
  return ok;
}

/* The request went out with ASYNC and the job started: --async prints
 * its id, --wait waits for it.
 */
static int
run_job (struct ctl *ctl, struct ctl_outcome *o)
{
  g_autoptr (GError) error = NULL;
  struct xcopy_proto_job job;

  if (ctl->o.async)
    return ctl_report_started (ctl, o->job_id, o->bytes_total);
  if (!wait_job (ctl, o->job_id, true, &job, &error))
    return ctl_fail (ctl, error);
  o->result = job.result;
  o->bytes_total = job.bytes_total;
  return ctl_report (ctl, o);
}

static bool
check_server_limits (struct ctl *ctl, uint16_t opcode, uint64_t ntotal,
                     GError **error)
{
  uint32_t max = ctl_conn_hello (ctl->conn)->max_ranges;

  if ((opcode != XCOPY_OP_COPY && opcode != XCOPY_OP_UNMAP) || ntotal <= max)
    return true;
  return ctl_set_error (error, CTL_EXIT_FAILED, "%ju %s: more than the"
                        " server's limit of %u per request (max_ranges)",
                        (uintmax_t) ntotal, opcode == XCOPY_OP_COPY
                        ? "ranges" : "spans", max);
}

int
ctl_run_long (struct ctl *ctl, struct xcopy_proto_request *req,
              uint64_t ntotal, uint64_t bytes_total)
{
  g_autoptr (GError) error = NULL;
  g_auto (CtlReply) rep = { 0 };
  struct ctl_outcome o = {
    .opcode = req->opcode, .ntotal = ntotal, .bytes_total = bytes_total,
  };

  if (!ctl_request_flags (ctl, req->opcode, &req->flags, &error) ||
      !ctl_open (ctl, &error) ||
      !check_server_limits (ctl, req->opcode, ntotal, &error) ||
      (req->opcode == XCOPY_OP_CLONE &&
       !ctl_need_cap (ctl, XCOPY_PROTO_CAP_CLONE, "CLONE", &error)) ||
      ((req->flags & XCOPY_PROTO_F_ASYNC) &&
       !ctl_need_cap (ctl, XCOPY_PROTO_CAP_JOBS, "jobs (--async, --wait)",
                      &error)))
    return ctl_fail (ctl, error);
  ctl->start = g_get_monotonic_time ();
  if (!ctl_call (ctl->conn, req, &rep, &error))
    return ctl_fail (ctl, error);
  if (rep.status) {
    o.result = rep.u.error.result;
    o.message = rep.u.error.message;
    return ctl_report (ctl, &o);
  }
  if (!(rep.flags & XCOPY_PROTO_RF_JOB)) {
    o.result = rep.u.result;
    return ctl_report (ctl, &o);
  }
  if (!(req->flags & XCOPY_PROTO_F_ASYNC)) {
    ctl_set_error (&error, CTL_EXIT_CONNECT, "bad reply: a job started"
                   " for a request without ASYNC");
    return ctl_fail (ctl, error);
  }
  o.job_id = rep.u.started.job_id;
  o.bytes_total = rep.u.started.bytes_total;
  return run_job (ctl, &o);
}

/* ---- jobs, cancel ---- */

static void
print_job_header (void)
{
  printf ("%6s  %-9s  %-9s  %14s  %14s  %4s  %s\n", "ID", "OPERATION",
          "STATE", "DONE", "TOTAL", "%", "RESULT");
}

static void
print_job (const struct xcopy_proto_job *j)
{
  const struct xcopy_result *r = &j->result;
  char a[CTL_HUMAN_STR], b[CTL_HUMAN_STR];
  g_autofree char *res = NULL;
  unsigned pct = j->bytes_total
    ? (unsigned) (r->bytes_done * 100.0 / (double) j->bytes_total) : 100;

  if (r->error && r->failed_index != SIZE_MAX)
    res = g_strdup_printf ("%s at range %zu after %ju bytes",
                           ctl_errno_name (r->error), r->failed_index,
                           (uintmax_t) r->failed_done);
  else if (r->error)
    res = g_strdup (ctl_errno_name (r->error));
  printf ("%6ju  %-9s  %-9s  %14s  %14s  %3u%%  %s\n", (uintmax_t) j->job_id,
          ctl_op_lower (j->opcode), xcopy_proto_job_state_name (j->state),
          ctl_human (r->bytes_done, a), ctl_human (j->bytes_total, b), pct,
          res ? res : "");
}

static void
print_jobs (struct ctl *ctl, const struct xcopy_proto_job *v, size_t n,
            const char *status)
{
  if (ctl->o.json) {
    JsonBuilder *b = ctl_json_begin (ctl, status);

    json_builder_set_member_name (b, "jobs");
    json_builder_begin_array (b);
    for (size_t i = 0; i < n; i++)
      ctl_json_job (b, &v[i]);
    json_builder_end_array (b);
    ctl_json_end (b);
    return;
  }
  if (ctl->o.quiet)
    return;
  if (n == 0) {
    printf ("no jobs\n");
    return;
  }
  print_job_header ();
  for (size_t i = 0; i < n; i++)
    print_job (&v[i]);
}

/* jobs ID --wait: wait, print the job as it ended; exit as it ended. */
static int
wait_existing (struct ctl *ctl, uint64_t id)
{
  g_autoptr (GError) error = NULL;
  struct xcopy_proto_job job;
  int code;

  if (!wait_job (ctl, id, false, &job, &error))
    return ctl_fail (ctl, error);
  code = ctl_exit_code (&job.result);
  print_jobs (ctl, &job, 1, code ? (code == CTL_EXIT_CANCELLED ? "cancelled"
                                    : code == CTL_EXIT_PARTIAL ? "partial"
                                    : "failed") : "done");
  if (code)
    fprintf (stderr, "xcopyctl: jobs: job %ju (%s) %s: %s (%s)\n",
             (uintmax_t) id, ctl_op_lower (job.opcode),
             xcopy_proto_job_state_name (job.state),
             g_strerror (job.result.error), ctl_errno_name (job.result.error));
  return code;
}

int
ctl_cmd_jobs (struct ctl *ctl, char **args, unsigned nargs)
{
  g_autoptr (GError) error = NULL;
  struct xcopy_proto_request req = { .opcode = XCOPY_OP_JOB_STATUS };
  g_auto (CtlReply) rep = { 0 };

  if (nargs && !ctl_job_id_arg (args[0], &req.u.job.job_id, &error))
    return ctl_fail (ctl, error);
  if (ctl->o.wait && nargs == 0) {
    ctl_set_error (&error, CTL_EXIT_USAGE, "--wait needs a job ID");
    return ctl_fail (ctl, error);
  }
  if (!ctl_open (ctl, &error) ||
      !ctl_need_cap (ctl, XCOPY_PROTO_CAP_JOBS, "jobs", &error))
    return ctl_fail (ctl, error);
  if (ctl->o.wait)
    return wait_existing (ctl, req.u.job.job_id);
  if (!ctl_call (ctl->conn, &req, &rep, &error))
    return ctl_fail (ctl, error);
  if (rep.status)
    return ctl_fail_reply (ctl, &rep);
  print_jobs (ctl, rep.u.jobs.v, rep.u.jobs.count, "done");
  return CTL_EXIT_OK;
}

int
ctl_cmd_cancel (struct ctl *ctl, char **args, unsigned nargs)
{
  g_autoptr (GError) error = NULL;
  struct xcopy_proto_job job;
  uint64_t id;

  g_assert (nargs == 1);
  if (!ctl_job_id_arg (args[0], &id, &error) ||
      !ctl_open (ctl, &error) ||
      !ctl_need_cap (ctl, XCOPY_PROTO_CAP_JOBS, "jobs", &error) ||
      !job_call (ctl, XCOPY_OP_JOB_CANCEL, id, &job, &error))
    return ctl_fail (ctl, error);
  /* §6.13: a job that ended before the cancel is not an error. */
  print_jobs (ctl, &job, 1, "done");
  return CTL_EXIT_OK;
}
