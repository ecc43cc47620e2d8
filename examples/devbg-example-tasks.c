/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The example vendor app's task executable (the "task host" of its
 * manifest, data/manifests/org.devbg.ExampleApp.xml). devbgd starts it for
 * one task instance; libdevbg's devbg_task_main() picks the entry point.
 * The protocols are those of devbg-sim's devices (sim/README.md).
 *
 *   ExampleApp.SyncBand            device use: reads the fitness band's
 *       activity records in chunks, checks each chunk's CRC-32,
 *       acknowledges it (so the band deletes it) and appends the records to
 *       out=FILE when given. Progress: percent of the records pending at
 *       the start. Arguments: chunk=N (records per READ, default 50),
 *       out=FILE.
 *   ExampleApp.UpdateDockFirmware  device servicing: prepares the dock,
 *       writes the image in chunks (progress: percent of the bytes),
 *       verifies it, resets the dock, waits for it to come back
 *       (devbg_task_instance_reopen_device()) and checks its new version.
 *       Arguments: version=V (default 2.0.0), size=BYTES (default 65536),
 *       chunk=BYTES (default 4096), reopen-timeout-ms=MS (default 30000).
 *       The image is made up from the version (the example has no real
 *       firmware), the same bytes for the same version.
 *
 * Both stop between chunks when canceled and complete with an error that
 * says what happened; a device that stops answering fails the task after
 * ANSWER_TIMEOUT_MS.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

#include "devbg.h"

#define ANSWER_TIMEOUT_MS 15000
/* How often a blocked read looks at the cancellation flag. */
#define CANCEL_POLL_MS    200
#define MAX_LINE          4096

/* ---- arguments: "key=value" words separated by spaces */

static char *
arg_string (DevbgTaskInstance *task, const char *key, const char *fallback)
{
  g_auto(GStrv) words = g_strsplit (devbg_task_instance_get_arguments (task), " ", -1);
  gsize klen = strlen (key);

  for (guint i = 0; words[i] != NULL; i++)
    if (strncmp (words[i], key, klen) == 0 && words[i][klen] == '=')
      return g_strdup (words[i] + klen + 1);
  return g_strdup (fallback);
}

static guint64
arg_uint (DevbgTaskInstance *task, const char *key, guint64 fallback, guint64 min, guint64 max)
{
  g_autofree char *text = arg_string (task, key, NULL);
  guint64 value;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, min, max, &value, NULL))
    return fallback;
  return value;
}

/* ---- CRC-32 as zlib computes it (what the devices check) */

static guint32
crc32_update (guint32 crc, const guint8 *data, gsize len)
{
  crc = ~crc;
  for (gsize i = 0; i < len; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1u));
    }
  return ~crc;
}

/* ---- a line-oriented connection to the device */

typedef struct {
  DevbgTaskInstance *task;
  int                fd;
  GString           *in;   /* bytes read, not yet returned as lines */
} Device;

static void
device_init (Device *dev, DevbgTaskInstance *task)
{
  dev->task = task;
  dev->fd = devbg_task_instance_get_device_fd (task);
  dev->in = g_string_new (NULL);
}

static void
device_clear (Device *dev)
{
  g_string_free (dev->in, TRUE);
}

/* devbgd's completion message already says "canceled (<reason>)": the
 * task's own part only says where it stopped. */
static gboolean
canceled_error (Device *dev, GError **error)
{
  (void) dev;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "stopped when canceled");
  return FALSE;
}

static gboolean
device_write (Device *dev, const void *data, gsize len, GError **error)
{
  const guint8 *p = data;

  while (len > 0)
    {
      ssize_t n = send (dev->fd, p, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                       "The device went away while we wrote to it: %s", g_strerror (errno));
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static gboolean
device_send_line (Device *dev, GError **error, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
device_send_line (Device *dev, GError **error, const char *format, ...)
{
  g_autofree char *line = NULL;
  g_autofree char *with_nl = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  with_nl = g_strconcat (line, "\n", NULL);
  return device_write (dev, with_nl, strlen (with_nl), error);
}

/* Waits for input in short slices, so a cancel is seen within
 * CANCEL_POLL_MS even while the device says nothing. */
static gboolean
device_fill (Device *dev, GError **error)
{
  char buf[4096];
  gint64 deadline = g_get_monotonic_time () + ANSWER_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  ssize_t n;

  for (;;)
    {
      struct pollfd pfd = { .fd = dev->fd, .events = POLLIN };
      int r;

      if (devbg_task_instance_is_canceled (dev->task))
        return canceled_error (dev, error);
      if (g_get_monotonic_time () > deadline)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "The device did not answer within %u s", ANSWER_TIMEOUT_MS / 1000);
          return FALSE;
        }
      r = poll (&pfd, 1, CANCEL_POLL_MS);
      if (r > 0)
        break;
      if (r < 0 && errno != EINTR)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "poll: %s",
                       g_strerror (errno));
          return FALSE;
        }
    }
  do
    n = read (dev->fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                   "The device went away (its connection closed)");
      return FALSE;
    }
  g_string_append_len (dev->in, buf, n);
  return TRUE;
}

/* One line without its newline; NULL with @error on timeout, EOF, cancel. */
static char *
device_read_line (Device *dev, GError **error)
{
  for (;;)
    {
      const char *nl = memchr (dev->in->str, '\n', dev->in->len);

      if (nl != NULL)
        {
          gsize len = (gsize) (nl - dev->in->str);
          char *line = g_strndup (dev->in->str, len);

          g_string_erase (dev->in, 0, (gssize) len + 1);
          return line;
        }
      if (dev->in->len > MAX_LINE)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "The device sent a line longer than %u bytes", MAX_LINE);
          return NULL;
        }
      if (!device_fill (dev, error))
        return NULL;
    }
}

/* Sends a command and returns its one-line answer, refusing "ERR ...". */
static char *
device_command (Device *dev, const char *command, GError **error)
{
  g_autofree char *answer = NULL;

  if (!device_send_line (dev, error, "%s", command))
    return NULL;
  answer = device_read_line (dev, error);
  if (answer == NULL)
    return NULL;
  if (g_str_has_prefix (answer, "ERR"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "The device refused '%s': %s",
                   command, answer);
      return NULL;
    }
  return g_steal_pointer (&answer);
}

static void
complete_with_error (DevbgTaskInstance *task, const char *what, const GError *error)
{
  g_autofree char *message = g_strdup_printf ("%s: %s", what, error->message);

  devbg_task_instance_complete (task, FALSE, message);
}

/* ---- ExampleApp.SyncBand */

typedef struct {
  guint  first;
  guint  count;
  guint  crc;
} ChunkHeader;

static gboolean
parse_chunk_header (const char *line, ChunkHeader *h, GError **error)
{
  if (sscanf (line, "CHUNK %u %u %x", &h->first, &h->count, &h->crc) != 3)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Expected a CHUNK line, the band said '%s'", line);
      return FALSE;
    }
  return TRUE;
}

/* Reads the @count record lines of a chunk into @records, checking the
 * CRC-32 of the lines with their newlines. */
static gboolean
read_chunk_records (Device *dev, const ChunkHeader *h, GString *records, GError **error)
{
  guint32 crc = 0;

  g_string_truncate (records, 0);
  for (guint i = 0; i < h->count; i++)
    {
      g_autofree char *line = device_read_line (dev, error);

      if (line == NULL)
        return FALSE;
      g_string_append (records, line);
      g_string_append_c (records, '\n');
    }
  crc = crc32_update (crc, (const guint8 *) records->str, records->len);
  if (crc != h->crc)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The chunk of records %u..%u failed its CRC check (band says %08x, "
                   "received %08x); they stay on the band for the next sync",
                   h->first, h->first + h->count - 1, h->crc, crc);
      return FALSE;
    }
  return TRUE;
}

static gboolean
store_records (FILE *out, const GString *records, GError **error)
{
  if (out == NULL)
    return TRUE;
  if (fwrite (records->str, 1, records->len, out) != records->len || fflush (out) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "Cannot store the records: %s", g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static gboolean
sync_band (DevbgTaskInstance *task, Device *dev, FILE *out, guint *synced, GError **error)
{
  guint chunk = (guint) arg_uint (task, "chunk", 50, 1, 1000);
  g_autoptr(GString) records = g_string_new (NULL);
  g_autofree char *hello = device_command (dev, "HELLO", error);
  guint pending = 0, first = 0;

  if (hello == NULL)
    return FALSE;
  if (sscanf (hello, "BAND 1 pending=%u first=%u", &pending, &first) != 2)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "This is not a band the example knows: '%s'", hello);
      return FALSE;
    }
  for (;;)
    {
      g_autofree char *header = NULL;
      g_autofree char *ack = NULL;
      g_autofree char *ack_cmd = NULL;
      ChunkHeader h;

      /* Between chunks: the place to stop cleanly when canceled. */
      if (devbg_task_instance_is_canceled (task))
        return canceled_error (dev, error);
      if (!device_send_line (dev, error, "READ %u", chunk))
        return FALSE;
      header = device_read_line (dev, error);
      if (header == NULL || !parse_chunk_header (header, &h, error))
        return FALSE;
      if (h.count == 0)
        break;
      if (!read_chunk_records (dev, &h, records, error) || !store_records (out, records, error))
        return FALSE;
      /* Acknowledged only once stored: a crash in between reads them again. */
      ack_cmd = g_strdup_printf ("ACK %u", h.first + h.count - 1);
      ack = device_command (dev, ack_cmd, error);
      if (ack == NULL)
        return FALSE;
      *synced += h.count;
      devbg_task_instance_report_progress (task, pending > 0 ? MIN (100u, *synced * 100u / pending)
                                                             : 100u);
    }
  devbg_task_instance_report_progress (task, 100);
  return TRUE;
}

static void
sync_band_run (DevbgTaskInstance *task, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out_path = arg_string (task, "out", NULL);
  FILE *out = NULL;
  Device dev;
  guint synced = 0;
  gboolean ok;

  devbg_task_instance_report_progress (task, 0);
  if (out_path != NULL && (out = fopen (out_path, "ae")) == NULL)
    {
      g_autofree char *message = g_strdup_printf ("Cannot open %s to store the records: %s",
                                                  out_path, g_strerror (errno));
      devbg_task_instance_complete (task, FALSE, message);
      return;
    }
  device_init (&dev, task);
  ok = sync_band (task, &dev, out, &synced, &error);
  device_clear (&dev);
  if (out != NULL)
    fclose (out);
  if (!ok)
    {
      g_autofree char *what = g_strdup_printf ("Band sync stopped after %u records", synced);
      complete_with_error (task, what, error);
    }
  /* Returning without a deferral: success. */
}

/* ---- ExampleApp.UpdateDockFirmware */

/* A made-up image: the same bytes for the same version and size. */
static GBytes *
make_image (const char *version, gsize size)
{
  guint8 *data = g_malloc (size);
  guint32 x = g_str_hash (version) | 1u;

  for (gsize i = 0; i < size; i++)
    {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      data[i] = (guint8) x;
    }
  return g_bytes_new_take (data, size);
}

static gboolean
expect_ok (Device *dev, const char *command, GError **error)
{
  g_autofree char *answer = device_command (dev, command, error);

  return answer != NULL;
}

static gboolean
write_image (DevbgTaskInstance *task, Device *dev, GBytes *image, gsize chunk, GError **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (image, &size);

  for (gsize offset = 0; offset < size; offset += chunk)
    {
      gsize len = MIN (chunk, size - offset);
      g_autofree char *answer = NULL;

      if (devbg_task_instance_is_canceled (task))
        return canceled_error (dev, error);
      if (!device_send_line (dev, error, "WRITE %" G_GSIZE_FORMAT " %" G_GSIZE_FORMAT,
                             offset, len) ||
          !device_write (dev, data + offset, len, error))
        return FALSE;
      answer = device_read_line (dev, error);
      if (answer == NULL)
        return FALSE;
      if (!g_str_has_prefix (answer, "OK"))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "The dock refused the chunk at byte %" G_GSIZE_FORMAT ": %s", offset, answer);
          return FALSE;
        }
      devbg_task_instance_report_progress (task, (guint) ((offset + len) * 100 / size));
    }
  return TRUE;
}

/* After RESET the dock leaves and comes back; devbgd hands us the new
 * channel, which takes the old one's fd. */
static gboolean
wait_for_dock (DevbgTaskInstance *task, Device *dev, const char *version, GError **error)
{
  guint timeout = (guint) arg_uint (task, "reopen-timeout-ms", 30000, 1, 30 * 60 * 1000);
  g_autofree char *answer = NULL;
  g_autofree char *expected = g_strdup_printf ("VERSION %s", version);

  devbg_task_instance_keep_alive (task);
  dev->fd = devbg_task_instance_reopen_device (task, timeout, error);
  if (dev->fd < 0)
    {
      g_prefix_error (error, "The dock did not come back after its reset: ");
      return FALSE;
    }
  g_string_truncate (dev->in, 0); /* nothing of the old channel carries over */
  answer = device_command (dev, "VERSION", error);
  if (answer == NULL)
    return FALSE;
  if (strcmp (answer, expected) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "The dock came back with '%s', not firmware %s", answer, version);
      return FALSE;
    }
  return TRUE;
}

static gboolean
update_dock (DevbgTaskInstance *task, Device *dev, GError **error)
{
  g_autofree char *version = arg_string (task, "version", "2.0.0");
  gsize size = (gsize) arg_uint (task, "size", 65536, 1, 64 * 1024 * 1024);
  gsize chunk = (gsize) arg_uint (task, "chunk", 4096, 1, 1024 * 1024);
  g_autoptr(GBytes) image = make_image (version, size);
  g_autofree char *hello = device_command (dev, "HELLO", error);
  g_autofree char *prepare = NULL;
  g_autofree char *verify = NULL;

  if (hello == NULL)
    return FALSE;
  if (!g_str_has_prefix (hello, "DOCK 1 "))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "This is not a dock the example knows: '%s'", hello);
      return FALSE;
    }
  prepare = g_strdup_printf ("PREPARE %" G_GSIZE_FORMAT " %s", size, version);
  if (!expect_ok (dev, prepare, error) || !write_image (task, dev, image, chunk, error))
    return FALSE;
  verify = g_strdup_printf ("VERIFY %08x", crc32_update (0, g_bytes_get_data (image, NULL), size));
  if (!expect_ok (dev, verify, error))
    return FALSE;
  /* The last point where a cancel leaves the dock as it was. */
  if (devbg_task_instance_is_canceled (task))
    return canceled_error (dev, error);
  if (!expect_ok (dev, "RESET", error))
    return FALSE;
  return wait_for_dock (task, dev, version, error);
}

static void
update_dock_run (DevbgTaskInstance *task, gpointer data)
{
  g_autoptr(GError) error = NULL;
  Device dev;

  devbg_task_instance_report_progress (task, 0);
  device_init (&dev, task);
  if (!update_dock (task, &dev, &error))
    complete_with_error (task, "Firmware update failed", error);
  device_clear (&dev);
}

static const DevbgTaskEntryPoint entry_points[] = {
  { "ExampleApp.SyncBand", sync_band_run, NULL },
  { "ExampleApp.UpdateDockFirmware", update_dock_run, NULL },
  { NULL, NULL, NULL },
};

int
main (int argc, char **argv)
{
  return devbg_task_main (argc, argv, entry_points);
}
