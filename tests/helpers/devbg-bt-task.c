/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A task for tests/integration/test_bluez.py, speaking devbgd's GATT
 * channel (docs/vendors.md): Bt.GattSync writes "sync" to ctrl=UUID,
 * reads data=UUID, starts notifications on it and waits for one, and
 * tries to read other=UUID (a characteristic of another service, which
 * must be refused). It writes
 * "write=<status> read=<value> notify=<value> other=<refused|reached>"
 * to path=FILE and completes, successfully when all went through.
 */
#include <devbg.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static char *
arg (DevbgTaskInstance *task, const char *key)
{
  g_auto(GStrv) words = g_strsplit (devbg_task_instance_get_arguments (task), " ", -1);
  gsize klen = strlen (key);

  for (guint i = 0; words[i] != NULL; i++)
    if (strncmp (words[i], key, klen) == 0 && words[i][klen] == '=')
      return g_strdup (words[i] + klen + 1);
  return g_strdup ("");
}

static gboolean
request (int fd, char op, const char *uuid, const char *data)
{
  g_autofree char *packet = g_strdup_printf ("%c%.36s%s", op, uuid, data);

  return send (fd, packet, strlen (packet), 0) == (ssize_t) strlen (packet);
}

/* The next packet of @kind ('=' reply, '!' error, '*' notification) for
 * @op; its data as a string (replies of other kinds are skipped). */
static char *
wait_for (int fd, char want_op, char *status)
{
  char buf[600];

  for (;;)
    {
      ssize_t n = recv (fd, buf, sizeof buf - 1, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 38)
        return NULL;
      buf[n] = '\0';
      if (buf[1] == want_op)
        {
          *status = buf[0];
          return g_strdup (buf + 38);
        }
    }
}

static DevbgTaskDeferral *the_deferral;

static gpointer
sync_thread (gpointer data)
{
  DevbgTaskInstance *task = data;
  DevbgTaskDeferral *deferral = the_deferral;
  int fd = devbg_task_instance_get_device_fd (task);
  g_autofree char *ctrl = arg (task, "ctrl");
  g_autofree char *dchar = arg (task, "data");
  g_autofree char *other = arg (task, "other");
  g_autofree char *value = NULL, *note = NULL, *other_value = NULL, *w = NULL, *s = NULL;
  g_autofree char *message = NULL;
  char st_w = 0, st_r = 0, st_s = 0, st_n = 0, st_o = 0;

  if (!request (fd, 'W', ctrl, "sync") || (w = wait_for (fd, 'W', &st_w)) == NULL ||
      !request (fd, 'R', dchar, "") || (value = wait_for (fd, 'R', &st_r)) == NULL ||
      !request (fd, 'S', dchar, "") || (s = wait_for (fd, 'S', &st_s)) == NULL ||
      (note = wait_for (fd, 'N', &st_n)) == NULL ||
      !request (fd, 'R', other, "") || (other_value = wait_for (fd, 'R', &st_o)) == NULL)
    {
      devbg_task_deferral_complete (deferral, FALSE, "the GATT channel closed");
      return NULL;
    }
  message = g_strdup_printf ("write=%c read=%s notify=%s other=%s", st_w, value, note,
                             st_o == '!' ? "refused" : "reached");
  {
    g_autofree char *path = arg (task, "path");
    if (!g_file_set_contents (path, message, -1, NULL))
      {
        devbg_task_deferral_complete (deferral, FALSE, "cannot write the result");
        return NULL;
      }
  }
  devbg_task_deferral_complete (deferral, st_w == '=' && st_r == '=' && st_n == '*', message);
  return NULL;
}

static void
run_gatt_sync (DevbgTaskInstance *task, gpointer data)
{
  /* Taken before the entry point returns: a task with no deferral is
   * done when it returns. */
  the_deferral = devbg_task_instance_get_deferral (task);
  g_thread_unref (g_thread_new ("gatt", sync_thread, task));
}

static const DevbgTaskEntryPoint entry_points[] = {
  { "Bt.GattSync", run_gatt_sync, NULL },
  { NULL, NULL, NULL },
};

int
main (int argc, char **argv)
{
  return devbg_task_main (argc, argv, entry_points);
}
