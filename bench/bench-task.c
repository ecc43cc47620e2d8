/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The task executable of the runtime benchmark (bench/bench_runtime.py),
 * on libdevbg's task side. Both entry points read CLOCK_MONOTONIC first
 * thing, before anything else they do, and write it (nanoseconds, one
 * decimal line) to the file named by the argument out=PATH (an absolute
 * path: the task runs with a cwd of / and a clean environment).
 *
 *   Bench.Latency   completes at once (successfully)
 *   Bench.Progress  reports progress i % 101 for i in 1..count
 *                   (count=200000; progress is 0 to 100) as fast as it
 *                   can through devbg_task_instance_report_progress(),
 *                   then completes successfully
 *
 * The same executable, started by bench-spawn-floor rather than devbgd,
 * is the floor of the request-to-running figure: same binary, same start-up
 * (libdevbg reading the TRIGGER from fd 4), same entry point.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devbg.h"

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* The value of @key in the "key=value ..." arguments, or NULL. */
static char *
arg (DevbgTaskInstance *task, const char *key)
{
  g_auto(GStrv) words = g_strsplit (devbg_task_instance_get_arguments (task), " ", -1);
  gsize klen = strlen (key);

  for (char **w = words; *w != NULL; w++)
    if (strncmp (*w, key, klen) == 0 && (*w)[klen] == '=')
      return g_strdup (*w + klen + 1);
  return NULL;
}

static gboolean
write_stamp (DevbgTaskInstance *task, gint64 entered_ns)
{
  g_autofree char *out = arg (task, "out");
  char line[32];
  int fd, len;
  gboolean ok;

  if (out == NULL)
    return FALSE;
  fd = open (out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return FALSE;
  len = g_snprintf (line, sizeof line, "%" G_GINT64_FORMAT "\n", entered_ns);
  ok = write (fd, line, (size_t) len) == len;
  return close (fd) == 0 && ok;
}

static void
latency_run (DevbgTaskInstance *task, gpointer data)
{
  gint64 entered = now_ns ();

  (void) data;
  if (!write_stamp (task, entered))
    devbg_task_instance_complete (task, FALSE, "cannot write the out= file");
}

static void
progress_run (DevbgTaskInstance *task, gpointer data)
{
  gint64 entered = now_ns ();
  g_autofree char *count_s = arg (task, "count");
  guint count = count_s != NULL ? (guint) g_ascii_strtoull (count_s, NULL, 10) : 200000;

  (void) data;
  for (guint i = 1; i <= count; i++)
    devbg_task_instance_report_progress (task, i % 101);
  if (!write_stamp (task, entered))
    devbg_task_instance_complete (task, FALSE, "cannot write the out= file");
}

static const DevbgTaskEntryPoint entry_points[] = {
  { "Bench.Latency", latency_run, NULL },
  { "Bench.Progress", progress_run, NULL },
  { NULL, NULL, NULL }
};

int
main (int argc, char **argv)
{
  return devbg_task_main (argc, argv, entry_points);
}
