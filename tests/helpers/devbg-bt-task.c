/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A task for tests/integration/test_bluez.py, speaking devbgd's GATT
 * channel (docs/vendors.md): Bt.GattSync writes "sync" to ctrl=UUID,
 * reads data=UUID, starts notifications on it and waits for one, and
 * tries to read other=UUID (a characteristic of another service, which
 * must be refused), after a malformed request. It writes "bad=<status>
 * write=<status> read=<value> notify=<value> other=<refused|reached>"
 * to path=FILE and completes, successfully when all went through.
 *
 * Net.Talk (tests/integration/test_net.py) sends "hello" on the socket
 * devbgd connected, reads the device's answer line, tries to connect the
 * same socket to other=IP:PORT, and, for rounds=2, waits for the device to
 * drop the connection (a reboot), asks for the device again
 * (REOPEN_DEVICE) and talks once more. It writes
 * "replies=<line>|<line> other=<connect's error or 'connected'>" to
 * path=FILE.
 *
 * For bench/bench_bluez.py: Bt.Stream writes mib=N MiB of zeros in 64 KiB
 * writes to its device fd and completes; Bt.GattReads does ops=N reads of
 * data=UUID over the GATT channel and writes "<seconds>" to path=FILE.
 * Run as "devbg-bt-task direct-gatt BUS-ADDRESS CHARACTERISTIC-PATH N", it
 * does the same reads straight from the BlueZ-shaped service over D-Bus
 * and prints the seconds: the baseline.
 */
#include <devbg.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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
  g_autofree char *bad = NULL;
  char st_w = 0, st_r = 0, st_s = 0, st_n = 0, st_o = 0, st_b = 0;

  /* A malformed request first: it must be answered with an error and
   * change nothing. */
  if (send (fd, "Zgarbage", 8, 0) != 8 || (bad = wait_for (fd, 'Z', &st_b)) == NULL ||
      !request (fd, 'W', ctrl, "sync") || (w = wait_for (fd, 'W', &st_w)) == NULL ||
      !request (fd, 'R', dchar, "") || (value = wait_for (fd, 'R', &st_r)) == NULL ||
      !request (fd, 'S', dchar, "") || (s = wait_for (fd, 'S', &st_s)) == NULL ||
      (note = wait_for (fd, 'N', &st_n)) == NULL ||
      !request (fd, 'R', other, "") || (other_value = wait_for (fd, 'R', &st_o)) == NULL)
    {
      devbg_task_deferral_complete (deferral, FALSE, "the GATT channel closed");
      return NULL;
    }
  message = g_strdup_printf ("bad=%c write=%c read=%s notify=%s other=%s", st_b, st_w, value,
                             note, st_o == '!' ? "refused" : "reached");
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

/* ---- Net.Talk ---- */

static char *
talk (int fd)
{
  GString *line = g_string_new (NULL);
  char c;

  if (write (fd, "hello\n", 6) != 6)
    return g_string_free (line, TRUE);
  while (read (fd, &c, 1) == 1 && c != '\n')
    g_string_append_c (line, c);
  return g_string_free (line, FALSE);
}

/* What connect() on the granted socket to another host gives, after
 * trying to disconnect it as a TCP socket can be (AF_UNSPEC). */
static char *
try_other (int fd, const char *other)
{
  g_auto(GStrv) hp = g_strsplit (other, ":", 2);
  struct sockaddr_in sin = { .sin_family = AF_INET };
  struct sockaddr unspec = { .sa_family = AF_UNSPEC };

  if (hp[0] == NULL || hp[1] == NULL || inet_pton (AF_INET, hp[0], &sin.sin_addr) != 1)
    return g_strdup ("bad-other");
  sin.sin_port = htons ((guint16) g_ascii_strtoull (hp[1], NULL, 10));
  if (connect (fd, &unspec, sizeof unspec) < 0)
    g_printerr ("Net.Talk: disconnect: %s\n", g_strerror (errno));
  if (connect (fd, (struct sockaddr *) &sin, sizeof sin) == 0)
    return g_strdup ("connected");
  return g_strdup (g_strerror (errno));
}

static gpointer
talk_thread (gpointer data)
{
  DevbgTaskInstance *task = data;
  g_autofree char *other = arg (task, "other");
  g_autofree char *rounds = arg (task, "rounds");
  g_autofree char *path = arg (task, "path");
  g_autoptr(GError) error = NULL;
  g_autofree char *first = talk (devbg_task_instance_get_device_fd (task));
  g_autofree char *other_result = try_other (devbg_task_instance_get_device_fd (task), other);
  g_autofree char *second = NULL;
  g_autofree char *message = NULL;
  char c;

  if (g_strcmp0 (rounds, "2") == 0)
    {
      int fd;
      /* The device reboots: the connection ends. */
      while (read (devbg_task_instance_get_device_fd (task), &c, 1) == 1)
        ;
      fd = devbg_task_instance_reopen_device (task, 20000, &error);
      second = fd < 0 ? g_strdup_printf ("reopen: %s", error->message) : talk (fd);
    }
  message = g_strdup_printf ("replies=%s|%s other=%s", first ? first : "", second ? second : "",
                             other_result);
  if (!g_file_set_contents (path, message, -1, NULL))
    devbg_task_deferral_complete (the_deferral, FALSE, "cannot write the result");
  else
    devbg_task_deferral_complete (the_deferral, first != NULL && *first != '\0', message);
  return NULL;
}

static void
run_net_talk (DevbgTaskInstance *task, gpointer data)
{
  the_deferral = devbg_task_instance_get_deferral (task);
  g_thread_unref (g_thread_new ("talk", talk_thread, task));
}

/* ---- bench entry points ---- */

static gpointer
stream_thread (gpointer data)
{
  DevbgTaskInstance *task = data;
  g_autofree char *mib = arg (task, "mib");
  guint64 left = g_ascii_strtoull (mib, NULL, 10) << 20;
  static char zeros[65536];
  int fd = devbg_task_instance_get_device_fd (task);

  while (left > 0)
    {
      ssize_t n = write (fd, zeros, MIN (left, sizeof zeros));
      if (n <= 0)
        {
          devbg_task_deferral_complete (the_deferral, FALSE, "the stream closed");
          return NULL;
        }
      left -= (guint64) n;
    }
  devbg_task_deferral_complete (the_deferral, TRUE, NULL);
  return NULL;
}

static void
run_stream (DevbgTaskInstance *task, gpointer data)
{
  the_deferral = devbg_task_instance_get_deferral (task);
  g_thread_unref (g_thread_new ("stream", stream_thread, task));
}

static gpointer
gatt_reads_thread (gpointer data)
{
  DevbgTaskInstance *task = data;
  g_autofree char *dchar = arg (task, "data");
  g_autofree char *ops = arg (task, "ops");
  g_autofree char *path = arg (task, "path");
  g_autofree char *out = NULL;
  guint n = (guint) g_ascii_strtoull (ops, NULL, 10);
  int fd = devbg_task_instance_get_device_fd (task);
  gint64 start = g_get_monotonic_time ();
  char st;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *value = NULL;
      if (!request (fd, 'R', dchar, "") || (value = wait_for (fd, 'R', &st)) == NULL || st != '=')
        {
          devbg_task_deferral_complete (the_deferral, FALSE, "a read failed");
          return NULL;
        }
    }
  out = g_strdup_printf ("%.6f", (g_get_monotonic_time () - start) / 1e6);
  g_file_set_contents (path, out, -1, NULL);
  devbg_task_deferral_complete (the_deferral, TRUE, NULL);
  return NULL;
}

static void
run_gatt_reads (DevbgTaskInstance *task, gpointer data)
{
  the_deferral = devbg_task_instance_get_deferral (task);
  g_thread_unref (g_thread_new ("reads", gatt_reads_thread, task));
}

static int
direct_gatt (const char *address, const char *path, guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
  gint64 start;

  if (bus == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GVariant) r = g_dbus_connection_call_sync (
        bus, "org.bluez", path, "org.bluez.GattCharacteristic1", "ReadValue",
        g_variant_new ("(a{sv})", NULL), G_VARIANT_TYPE ("(ay)"), G_DBUS_CALL_FLAGS_NONE, -1,
        NULL, &error);
      if (r == NULL)
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
    }
  g_print ("%.6f\n", (g_get_monotonic_time () - start) / 1e6);
  return 0;
}

static const DevbgTaskEntryPoint entry_points[] = {
  { "Bt.Stream", run_stream, NULL },
  { "Bt.GattReads", run_gatt_reads, NULL },
  { "Bt.GattSync", run_gatt_sync, NULL },
  { "Net.Talk", run_net_talk, NULL },
  { NULL, NULL, NULL },
};

int
main (int argc, char **argv)
{
  if (argc == 5 && g_str_equal (argv[1], "direct-gatt"))
    return direct_gatt (argv[2], argv[3], (guint) g_ascii_strtoull (argv[4], NULL, 10));
  return devbg_task_main (argc, argv, entry_points);
}
