/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A servicing task for tests/integration/test_udev.py: it holds its real
 * (umockdev) device, and asks for it back (REOPEN_DEVICE) as a firmware
 * updater does after each reset, "resets=N" times. Progress k means "k
 * reopens done"; the completion message names what it finally holds.
 */
#include <devbg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

typedef struct {
  DevbgTaskInstance *task;
  DevbgTaskDeferral *deferral;
  guint              resets;
} Updater;

static guint
arg_uint (DevbgTaskInstance *task, const char *key, guint fallback)
{
  g_auto(GStrv) words = g_strsplit (devbg_task_instance_get_arguments (task), " ", -1);
  gsize klen = strlen (key);

  for (guint i = 0; words[i] != NULL; i++)
    if (strncmp (words[i], key, klen) == 0 && words[i][klen] == '=')
      return (guint) g_ascii_strtoull (words[i] + klen + 1, NULL, 10);
  return fallback;
}

/* Reopening blocks: off the main loop, which answers cancels meanwhile. */
static gpointer
update_thread (gpointer data)
{
  Updater *u = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  struct stat st = { 0 };

  devbg_task_instance_report_progress (u->task, 0);
  for (guint i = 0; i < u->resets; i++)
    {
      int fd = devbg_task_instance_reopen_device (u->task, 10000, &error);
      if (fd < 0)
        {
          message = g_strdup_printf ("reopen %u: %s", i + 1, error->message);
          devbg_task_deferral_complete (u->deferral, FALSE, message);
          return NULL;
        }
      devbg_task_instance_report_progress (u->task, i + 1);
    }
  fstat (devbg_task_instance_get_device_fd (u->task), &st);
  message = g_strdup_printf ("holds rdev %u:%u", major (st.st_rdev), minor (st.st_rdev));
  devbg_task_deferral_complete (u->deferral, TRUE, message);
  return NULL;
}

static void
run_reopen (DevbgTaskInstance *task, gpointer data)
{
  static Updater u;

  u.task = task;
  u.deferral = devbg_task_instance_get_deferral (task);
  u.resets = arg_uint (task, "resets", 1);
  g_thread_unref (g_thread_new ("update", update_thread, &u));
}

static const DevbgTaskEntryPoint entry_points[] = {
  { "Udev.Reopen", run_reopen, NULL },
  { NULL, NULL, NULL },
};

int
main (int argc, char **argv)
{
  return devbg_task_main (argc, argv, entry_points);
}
