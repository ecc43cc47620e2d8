/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A task executable for the tests, hosting several entry points through
 * libdevbg's task side. Arguments are "key=value" words separated by
 * spaces.
 *
 *   Test.Progress     reports progress 1..count (count=10, interval_ms=10;
 *                     never above 100) from a main-loop timer under a
 *                     deferral, then completes successfully
 *   Test.Fail         completes with an error: message=... (one word) or a
 *                     default message; after delay_ms (0), and then stays
 *                     stay_ms (0) before it leaves, as a slow task does
 *   Test.IgnoreCancel forks a child that sleeps (keeping fds 3 and 4),
 *                     writes the child's pid to path=FILE (if given),
 *                     reports progress 0, and never completes, even when
 *                     canceled
 *   Test.Idle         reports progress 0 (so a test knows it runs), then
 *                     does nothing until canceled; then completes with the
 *                     error "canceled: <reason>: <detail>"
 *   Test.Exit         exits with status 3 without completing (status=N)
 *   Test.Io           every interval_ms (100) writes one byte '.' to the
 *                     device fd and reads what is there; progress = rounds
 *                     (at most 100);
 *                     completes after count rounds (0: until canceled)
 *   Test.ReportFds    writes, to path=FILE (or stdout), the fds it had at
 *                     start-up (before libraries opened any), its uid, gid,
 *                     groups, euid, egid, capability sets (capeff=<hex>, ...),
 *                     nice value and trigger details, as key=value
 *                     lines; completes successfully
 *
 * Canceled while running, Test.Progress and Test.Io complete with the same
 * error as Test.Idle.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "devbg.h"

/* The fd listing at start-up, before GLib opened its own wake-up fds. */
static char startup_fds[256];

static gint
compare_ints (gconstpointer a, gconstpointer b)
{
  return *(const int *) a - *(const int *) b;
}

static void
snapshot_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  GString *s = g_string_new (NULL);
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  struct dirent *e;

  if (d == NULL)
    return;
  while ((e = readdir (d)) != NULL)
    {
      int fd = atoi (e->d_name);
      if (e->d_name[0] != '.' && fd != dirfd (d))
        g_array_append_val (fds, fd);
    }
  closedir (d);
  g_array_sort (fds, compare_ints);
  for (guint i = 0; i < fds->len; i++)
    g_string_append_printf (s, "%s%d", i > 0 ? "," : "", g_array_index (fds, int, i));
  g_strlcpy (startup_fds, s->str, sizeof startup_fds);
  g_string_free (s, TRUE);
}

/* The value of @key in the task's "key=value ..." arguments, or @fallback. */
static char *
arg (DevbgTaskInstance *task, const char *key, const char *fallback)
{
  g_auto(GStrv) words = g_strsplit (devbg_task_instance_get_arguments (task), " ", -1);
  gsize klen = strlen (key);

  for (guint i = 0; words[i] != NULL; i++)
    if (strncmp (words[i], key, klen) == 0 && words[i][klen] == '=')
      return g_strdup (words[i] + klen + 1);
  return g_strdup (fallback);
}

static guint
arg_uint (DevbgTaskInstance *task, const char *key, guint fallback)
{
  g_autofree char *v = arg (task, key, NULL);

  return v != NULL ? (guint) g_ascii_strtoull (v, NULL, 10) : fallback;
}

static char *
canceled_message (DevbgTaskInstance *task)
{
  return g_strdup_printf ("canceled: %s",
                          devbg_cancel_reason_to_string (devbg_task_instance_get_cancel_reason (task)));
}

/* ---- timers shared by Test.Progress and Test.Io */

typedef struct {
  DevbgTaskInstance *task;
  DevbgTaskDeferral *deferral;
  guint              count;
  guint              done;
  gboolean           io;
} Ticker;

static gboolean
ticker_finish (Ticker *t, gboolean success, const char *message)
{
  devbg_task_deferral_complete (t->deferral, success, message);
  g_free (t);
  return G_SOURCE_REMOVE;
}

static void
ticker_do_io (Ticker *t)
{
  int fd = devbg_task_instance_get_device_fd (t->task);
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  char buf[256];

  if (write (fd, ".", 1) < 0)
    g_printerr ("Test.Io: write: %s\n", g_strerror (errno));
  if (poll (&pfd, 1, 0) == 1 && (pfd.revents & POLLIN))
    {
      ssize_t n G_GNUC_UNUSED = read (fd, buf, sizeof buf);
    }
}

static gboolean
ticker_tick (gpointer data)
{
  Ticker *t = data;

  if (devbg_task_instance_is_canceled (t->task))
    {
      g_autofree char *m = canceled_message (t->task);
      return ticker_finish (t, FALSE, m);
    }
  if (t->io)
    ticker_do_io (t);
  t->done++;
  /* Progress is a percentage: a long run stays at 100. */
  devbg_task_instance_report_progress (t->task, MIN (t->done, 100));
  if (t->count > 0 && t->done >= t->count)
    return ticker_finish (t, TRUE, NULL);
  return G_SOURCE_CONTINUE;
}

static void
start_ticker (DevbgTaskInstance *task, gboolean io, guint default_interval, guint default_count)
{
  Ticker *t = g_new0 (Ticker, 1);

  t->task = task;
  t->io = io;
  t->count = arg_uint (task, "count", default_count);
  t->deferral = devbg_task_instance_get_deferral (task);
  g_timeout_add (arg_uint (task, "interval_ms", default_interval), ticker_tick, t);
}

static void
run_progress (DevbgTaskInstance *task, gpointer data)
{
  start_ticker (task, FALSE, 10, 10);
}

static void
run_io (DevbgTaskInstance *task, gpointer data)
{
  start_ticker (task, TRUE, 100, 0);
}

/* ---- the others */

typedef struct {
  DevbgTaskInstance *task;
  DevbgTaskDeferral *deferral;
} FailState;

static void
fail_now (DevbgTaskInstance *task, DevbgTaskDeferral *deferral)
{
  g_autofree char *message = arg (task, "message", "Test.Fail failed as asked");
  guint stay_ms = arg_uint (task, "stay_ms", 0);

  if (deferral != NULL)
    devbg_task_deferral_complete (deferral, FALSE, message);
  else
    devbg_task_instance_complete (task, FALSE, message);
  /* The completion is sent: what devbgd hears of meanwhile comes after it. */
  if (stay_ms > 0)
    g_usleep ((gulong) stay_ms * 1000);
}

static gboolean
fail_later (gpointer data)
{
  FailState *s = data;

  fail_now (s->task, s->deferral);
  return G_SOURCE_REMOVE;
}

static void
run_fail (DevbgTaskInstance *task, gpointer data)
{
  static FailState state;
  guint delay_ms = arg_uint (task, "delay_ms", 0);

  if (delay_ms == 0)
    {
      fail_now (task, NULL);
      return;
    }
  state = (FailState) { task, devbg_task_instance_get_deferral (task) };
  g_timeout_add (delay_ms, fail_later, &state);
}

static void
run_ignore_cancel (DevbgTaskInstance *task, gpointer data)
{
  g_autofree char *path = arg (task, "path", NULL);
  g_autofree char *pid = NULL;
  g_autoptr(GError) error = NULL;
  pid_t child = fork ();

  if (child == 0)
    {
      /* Keeps the device and the channel open, as a careless helper would. */
      for (;;)
        pause ();
    }
  devbg_task_instance_get_deferral (task); /* never completed */
  /* Written before the progress: a test that saw the progress finds it. */
  pid = g_strdup_printf ("%d\n", (int) child);
  if (path != NULL && !g_file_set_contents (path, pid, -1, &error))
    g_printerr ("Test.IgnoreCancel: %s\n", error->message);
  devbg_task_instance_report_progress (task, 0);
}

typedef struct {
  DevbgTaskDeferral *deferral;
} IdleState;

static void
idle_canceled (DevbgTaskInstance *task, DevbgCancelReason reason, const char *detail, gpointer data)
{
  IdleState *s = data;
  g_autofree char *m = g_strdup_printf ("canceled: %s: %s",
                                        devbg_cancel_reason_to_string (reason), detail);

  devbg_task_deferral_complete (s->deferral, FALSE, m);
}

static void
run_idle (DevbgTaskInstance *task, gpointer data)
{
  static IdleState state;

  state.deferral = devbg_task_instance_get_deferral (task);
  devbg_task_instance_set_canceled_handler (task, idle_canceled, &state);
  devbg_task_instance_report_progress (task, 0);
}

static void
run_exit (DevbgTaskInstance *task, gpointer data)
{
  exit ((int) arg_uint (task, "status", 3));
}

/* CapInh, CapPrm, CapEff, CapBnd and CapAmb of /proc/self/status, as
 * "capinh=<hex>" lines: what the kernel says the task may do. */
static void
append_capabilities (GString *out)
{
  g_autofree char *status = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return;
  lines = g_strsplit (status, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "Cap"))
      {
        g_autofree char *key = g_ascii_strdown (lines[i], strcspn (lines[i], ":"));
        g_string_append_printf (out, "%s=%s\n", key, g_strstrip (strchr (lines[i], ':') + 1));
      }
}

static void
run_report_fds (DevbgTaskInstance *task, gpointer data)
{
  g_autofree char *path = arg (task, "path", NULL);
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  gid_t groups[64];
  int n = getgroups (G_N_ELEMENTS (groups), groups);

  g_string_append_printf (out, "fds=%s\n", startup_fds);
  g_string_append_printf (out, "uid=%u\ngid=%u\ngroups=", (guint) getuid (), (guint) getgid ());
  for (int i = 0; i < n; i++)
    g_string_append_printf (out, "%s%u", i > 0 ? "," : "", (guint) groups[i]);
  g_string_append_printf (out, "\nnice=%d\n", getpriority (PRIO_PROCESS, 0));
  g_string_append_printf (out, "euid=%u\negid=%u\n", (guint) geteuid (), (guint) getegid ());
  append_capabilities (out);
  g_string_append_printf (out, "instance=%s\ntask=%s\nentry_point=%s\ndevice=%s\n",
                          devbg_task_instance_get_instance_id (task),
                          devbg_task_instance_get_task_id (task),
                          devbg_task_instance_get_entry_point (task),
                          devbg_task_instance_get_device_id (task));
  g_string_append_printf (out, "trigger=%s\nexpected_duration_ms=%" G_GUINT64_FORMAT "\n",
                          devbg_trigger_type_to_string (devbg_task_instance_get_trigger_type (task)),
                          devbg_task_instance_get_expected_duration_ms (task));
  if (path == NULL)
    fputs (out->str, stdout);
  else if (!g_file_set_contents (path, out->str, -1, &error))
    devbg_task_instance_complete (task, FALSE, error->message);
}

static const DevbgTaskEntryPoint entry_points[] = {
  { "Test.Progress", run_progress, NULL },
  { "Test.Fail", run_fail, NULL },
  { "Test.IgnoreCancel", run_ignore_cancel, NULL },
  { "Test.Idle", run_idle, NULL },
  { "Test.Exit", run_exit, NULL },
  { "Test.Io", run_io, NULL },
  { "Test.ReportFds", run_report_fds, NULL },
  { NULL, NULL, NULL },
};

int
main (int argc, char **argv)
{
  snapshot_fds ();
  return devbg_task_main (argc, argv, entry_points);
}
