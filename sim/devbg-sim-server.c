/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-sim-server.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_LINE 256
#define MAX_READ_RECORDS 1000
#define MAX_IMAGE_SIZE (64u << 20)
#define IO_BUF 65536
/* Opens waiting to be accepted: devbgd opens a device once per task, so
 * a few are plenty; more only queue behind a stalled simulator. */
#define LISTEN_BACKLOG 8

static const GDBusErrorEntry sim_error_entries[] = {
  { DEVBG_SIM_ERROR_NO_SUCH_DEVICE, DEVBG_SIM_DBUS_SERVICE ".Error.NoSuchDevice" },
  { DEVBG_SIM_ERROR_INVALID, DEVBG_SIM_DBUS_SERVICE ".Error.Invalid" },
  { DEVBG_SIM_ERROR_NOT_ATTACHED, DEVBG_SIM_DBUS_SERVICE ".Error.NotAttached" },
};

GQuark
devbg_sim_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("devbg-sim-error-quark", &quark, sim_error_entries,
                                      G_N_ELEMENTS (sim_error_entries));
  return (GQuark) quark;
}

typedef enum { KIND_BAND, KIND_DOCK } Kind;

typedef struct {
  DevbgSimServer *sim;
  char      *id;
  Kind       kind;
  char      *name;
  char      *serial;
  char      *protocol;
  char      *model_id;
  char      *container_id;
  GStrv      hardware_ids;
  gboolean   has_owner;     /* owner=, group=, mode= given: as a node's */
  guint32    owner_uid, owner_gid, mode;
  guint      plug;          /* attach count: a new instance path each time */
  gboolean   attached;
  guint      opens;

  /* The device's node: a listening socket at <socket dir>/<id> while it
   * is attached; a connection to it is an open, as open() of a real
   * device's node is. */
  char      *node;
  int        listen_fd;
  guint      listen_watch;

  /* I/O counter, shared with whoever opened the device (a memfd page) */
  int        counter_fd;
  guint64   *counter;

  /* the channel: the last connection accepted on the node, non-blocking */
  int        fd;
  guint      in_watch;
  guint      out_watch;
  guint      pause_timer;
  GString   *line;
  GByteArray *out;
  guint64    source_left;  /* SOURCE: bytes still to send */
  guint64    binary_left;  /* SINK / WRITE payload still to read */
  gboolean   binary_is_image;
  guint32    binary_offset;
  guint32    chunk_offset;  /* the WRITE being received */
  guint32    chunk_len;
  gboolean   close_after_flush;

  /* band */
  guint32    records_total; /* records are numbered 1..records_total */
  guint32    first_unacked;
  guint32    cursor;        /* next record to send on this channel */
  guint32    transfer_start;

  /* dock */
  char      *fw_version;
  char      *new_version;
  GByteArray *image;
  guint32    image_size;
  guint32    image_written;
  gboolean   image_verified;
  guint      reset_delay_ms;
  guint      reset_timer;

  /* faults */
  guint      slow_ms;
  guint      detach_at_pct;
  guint      corrupt_chunk; /* countdown: the Nth chunk from when it was set */
  gboolean   no_return;
} SimDevice;

struct _DevbgSimServer {
  GDBusConnection *connection;
  GDBusNodeInfo   *introspection;
  guint            registration_id;
  GHashTable      *devices; /* id -> SimDevice */
  guint            next_index[2];
  char            *socket_dir;
  gboolean         own_socket_dir; /* made by us: removed when we stop */
};

static void channel_close (SimDevice *dev);
static void channel_arm (SimDevice *dev);
static void device_detach (SimDevice *dev);
static gboolean device_plug (SimDevice *dev, GError **error);

/* ---- small helpers ---- */

static guint32
crc32_of (const guint8 *data, gsize len)
{
  guint32 crc = 0xffffffffu;

  for (gsize i = 0; i < len; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1u));
    }
  return ~crc;
}

static void
count_io (SimDevice *dev, gsize bytes)
{
  __atomic_add_fetch (dev->counter, (guint64) bytes, __ATOMIC_RELAXED);
}

static GVariant *
device_properties (SimDevice *dev)
{
  GVariantBuilder b;
  g_autofree char *instance = g_strdup_printf ("%s/%u", dev->id, dev->plug);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (dev->name));
  g_variant_builder_add (&b, "{sv}", "kind",
                         g_variant_new_string (dev->kind == KIND_BAND ? "band" : "dock"));
  g_variant_builder_add (&b, "{sv}", "protocol", g_variant_new_string (dev->protocol));
  g_variant_builder_add (&b, "{sv}", "hardware-ids",
                         g_variant_new_strv ((const char *const *) dev->hardware_ids, -1));
  g_variant_builder_add (&b, "{sv}", "model-id", g_variant_new_string (dev->model_id));
  g_variant_builder_add (&b, "{sv}", "container-id", g_variant_new_string (dev->container_id));
  g_variant_builder_add (&b, "{sv}", "serial", g_variant_new_string (dev->serial));
  g_variant_builder_add (&b, "{sv}", "instance", g_variant_new_string (instance));
  g_variant_builder_add (&b, "{sv}", "node", g_variant_new_string (dev->node));
  if (dev->kind == KIND_DOCK)
    g_variant_builder_add (&b, "{sv}", "firmware-version", g_variant_new_string (dev->fw_version));
  if (dev->has_owner)
    {
      g_variant_builder_add (&b, "{sv}", "owner-uid", g_variant_new_uint32 (dev->owner_uid));
      g_variant_builder_add (&b, "{sv}", "owner-gid", g_variant_new_uint32 (dev->owner_gid));
      g_variant_builder_add (&b, "{sv}", "mode", g_variant_new_uint32 (dev->mode));
    }
  return g_variant_builder_end (&b);
}

static void
emit (SimDevice *dev, const char *signal, gboolean with_props)
{
  GVariant *params = with_props
    ? g_variant_new ("(s@a{sv})", dev->id, device_properties (dev))
    : g_variant_new ("(s)", dev->id);

  g_dbus_connection_emit_signal (dev->sim->connection, NULL, DEVBG_SIM_OBJECT_PATH,
                                 DEVBG_SIM_IFACE, signal, params, NULL);
}

/* ---- output ---- */

static void
send_bytes (SimDevice *dev, const void *data, gsize len)
{
  g_byte_array_append (dev->out, data, (guint) len);
}

static void send_line (SimDevice *dev, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
send_line (SimDevice *dev, const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  send_bytes (dev, text, strlen (text));
  send_bytes (dev, "\n", 1);
}

/* Writes what is queued; FALSE when the peer is gone. */
static gboolean
flush_out (SimDevice *dev)
{
  static guint8 pattern[IO_BUF];

  while (dev->out->len > 0 || dev->source_left > 0)
    {
      const guint8 *data = dev->out->len > 0 ? dev->out->data : pattern;
      gsize len = dev->out->len > 0 ? dev->out->len : MIN (dev->source_left, sizeof pattern);
      ssize_t n = send (dev->fd, data, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n <= 0)
        return FALSE;
      count_io (dev, (gsize) n);
      if (dev->out->len > 0)
        g_byte_array_remove_range (dev->out, 0, (guint) n);
      else
        dev->source_left -= (guint64) n;
    }
  return TRUE;
}

/* ---- the band's protocol ---- */

static void
band_read (SimDevice *dev, guint32 max)
{
  g_autoptr(GString) payload = g_string_new (NULL);
  guint32 first = dev->cursor, count = 0;
  guint32 pending_at_start = dev->records_total - dev->transfer_start + 1;

  max = MIN (max, MAX_READ_RECORDS);
  while (count < max && dev->cursor <= dev->records_total)
    {
      guint32 seq = dev->cursor++;
      g_string_append_printf (payload, "%u,%u,%u,%u\n", seq, 1700000000u + seq * 60u,
                              (seq * 37u) % 200u, 60u + seq % 40u);
      count++;
    }
  send_line (dev, "CHUNK %u %u %08x", first, count,
             crc32_of ((const guint8 *) payload->str, payload->len));
  /* The checksum is of the true data: a corrupted chunk is detectable. */
  if (count > 0 && dev->corrupt_chunk > 0 && --dev->corrupt_chunk == 0)
    payload->str[0] = payload->str[0] == '9' ? '8' : '9';
  send_bytes (dev, payload->str, payload->len);
  if (count > 0 && dev->detach_at_pct > 0 && pending_at_start > 0 &&
      (guint64) (dev->cursor - dev->transfer_start) * 100 >=
      (guint64) dev->detach_at_pct * pending_at_start)
    {
      dev->detach_at_pct = 0;
      dev->close_after_flush = TRUE;
    }
}

static void
band_ack (SimDevice *dev, guint32 upto)
{
  /* Only what was sent can be acknowledged. */
  upto = MIN (upto, dev->cursor - 1);
  if (upto >= dev->first_unacked)
    dev->first_unacked = upto + 1;
  send_line (dev, "OK %u", dev->records_total - dev->first_unacked + 1);
}

static void
band_command (SimDevice *dev, char **words, guint n)
{
  if (g_str_equal (words[0], "HELLO"))
    send_line (dev, "BAND 1 pending=%u first=%u", dev->records_total - dev->first_unacked + 1,
               dev->first_unacked);
  else if (g_str_equal (words[0], "COUNT"))
    send_line (dev, "COUNT %u", dev->records_total - dev->first_unacked + 1);
  else if (g_str_equal (words[0], "READ") && n == 2)
    band_read (dev, (guint32) g_ascii_strtoull (words[1], NULL, 10));
  else if (g_str_equal (words[0], "ACK") && n == 2)
    band_ack (dev, (guint32) g_ascii_strtoull (words[1], NULL, 10));
  else
    send_line (dev, "ERR unknown-command");
}

/* ---- the dock's protocol ---- */

static const char *
image_state (SimDevice *dev)
{
  if (dev->image == NULL)
    return "idle";
  if (dev->image_verified)
    return "verified";
  return dev->image_written == dev->image_size ? "written" : "prepared";
}

static void
dock_prepare (SimDevice *dev, guint32 size, const char *version)
{
  if (size == 0 || size > MAX_IMAGE_SIZE)
    {
      send_line (dev, "ERR bad-size");
      return;
    }
  g_clear_pointer (&dev->image, g_byte_array_unref);
  dev->image = g_byte_array_sized_new (size);
  g_byte_array_set_size (dev->image, size);
  memset (dev->image->data, 0xff, size);
  dev->image_size = size;
  dev->image_written = 0;
  dev->image_verified = FALSE;
  g_free (dev->new_version);
  dev->new_version = g_strdup (version);
  send_line (dev, "OK");
}

static void
dock_write (SimDevice *dev, guint32 offset, guint32 len)
{
  if (dev->image == NULL || len == 0 || (guint64) offset + len > dev->image_size)
    {
      /* Swallow the payload anyway, so the stream stays in step. */
      dev->binary_left = len;
      dev->binary_is_image = FALSE;
      send_line (dev, "ERR %s", dev->image == NULL ? "not-prepared" : "out-of-range");
      return;
    }
  dev->binary_left = len;
  dev->binary_is_image = TRUE;
  dev->binary_offset = offset;
  dev->chunk_offset = offset;
  dev->chunk_len = len;
  dev->image_verified = FALSE;
}

static void
dock_write_done (SimDevice *dev)
{
  guint32 offset = dev->chunk_offset, len = dev->chunk_len;

  if (dev->corrupt_chunk > 0 && --dev->corrupt_chunk == 0)
    dev->image->data[offset] ^= 0x5a;
  dev->image_written = MIN (dev->image_size, dev->image_written + len);
  send_line (dev, "OK %u", dev->image_written);
  if (dev->detach_at_pct > 0 &&
      (guint64) dev->image_written * 100 >= (guint64) dev->detach_at_pct * dev->image_size)
    {
      dev->detach_at_pct = 0;
      dev->close_after_flush = TRUE;
    }
}

static void
dock_verify (SimDevice *dev, const char *crc_hex)
{
  guint32 want = (guint32) g_ascii_strtoull (crc_hex, NULL, 16);

  dev->image_verified = dev->image != NULL && dev->image_written == dev->image_size &&
                        crc32_of (dev->image->data, dev->image_size) == want;
  send_line (dev, dev->image_verified ? "OK" : "ERR bad-image");
}

static gboolean
on_reset_done (gpointer user_data)
{
  SimDevice *dev = user_data;
  g_autoptr(GError) error = NULL;

  dev->reset_timer = 0;
  if (dev->no_return)
    {
      g_info ("%s: reset, and it never comes back (fault no-return)", dev->id);
      return G_SOURCE_REMOVE;
    }
  if (dev->image_verified)
    {
      g_free (dev->fw_version);
      dev->fw_version = g_steal_pointer (&dev->new_version);
    }
  g_clear_pointer (&dev->image, g_byte_array_unref);
  dev->image_verified = FALSE;
  if (!device_plug (dev, &error))
    {
      g_warning ("%s: cannot come back after reset: %s", dev->id, error->message);
      return G_SOURCE_REMOVE;
    }
  g_info ("%s: back after reset with firmware %s", dev->id, dev->fw_version);
  return G_SOURCE_REMOVE;
}

static void
dock_reset (SimDevice *dev)
{
  send_line (dev, "OK");
  dev->close_after_flush = TRUE;
  g_clear_handle_id (&dev->reset_timer, g_source_remove);
  dev->reset_timer = g_timeout_add (dev->reset_delay_ms, on_reset_done, dev);
}

static void
dock_command (SimDevice *dev, char **words, guint n)
{
  if (g_str_equal (words[0], "HELLO"))
    send_line (dev, "DOCK 1 fw=%s state=%s", dev->fw_version, image_state (dev));
  else if (g_str_equal (words[0], "VERSION"))
    send_line (dev, "VERSION %s", dev->fw_version);
  else if (g_str_equal (words[0], "PREPARE") && n == 3)
    dock_prepare (dev, (guint32) g_ascii_strtoull (words[1], NULL, 10), words[2]);
  else if (g_str_equal (words[0], "WRITE") && n == 3)
    dock_write (dev, (guint32) g_ascii_strtoull (words[1], NULL, 10),
                (guint32) g_ascii_strtoull (words[2], NULL, 10));
  else if (g_str_equal (words[0], "VERIFY") && n == 2)
    dock_verify (dev, words[1]);
  else if (g_str_equal (words[0], "RESET"))
    dock_reset (dev);
  else
    send_line (dev, "ERR unknown-command");
}

/* ---- the channel ---- */

/* Commands both devices know: PING, and SINK/SOURCE for raw throughput. */
static gboolean
common_command (SimDevice *dev, char **words, guint n)
{
  if (g_str_equal (words[0], "PING"))
    send_line (dev, "PONG");
  else if (g_str_equal (words[0], "SINK") && n == 2)
    {
      dev->binary_left = g_ascii_strtoull (words[1], NULL, 10);
      dev->binary_is_image = FALSE;
      if (dev->binary_left == 0)
        send_line (dev, "OK 0");
    }
  else if (g_str_equal (words[0], "SOURCE") && n == 2)
    {
      guint64 len = g_ascii_strtoull (words[1], NULL, 10);
      send_line (dev, "DATA %" G_GUINT64_FORMAT, len);
      dev->source_left = len;
    }
  else
    return FALSE;
  return TRUE;
}

static void
handle_line (SimDevice *dev, const char *line)
{
  g_auto(GStrv) words = g_strsplit (line, " ", 4);
  guint n = g_strv_length (words);

  if (n == 0 || words[0][0] == '\0')
    return;
  if (common_command (dev, words, n))
    return;
  if (dev->kind == KIND_BAND)
    band_command (dev, words, n);
  else
    dock_command (dev, words, n);
}

static gboolean
on_pause_over (gpointer user_data)
{
  SimDevice *dev = user_data;

  dev->pause_timer = 0;
  channel_arm (dev);
  return G_SOURCE_REMOVE;
}

/* Stops serving the channel for @ms: the stall and slow faults. */
static void
channel_pause (SimDevice *dev, guint ms)
{
  g_clear_handle_id (&dev->in_watch, g_source_remove);
  g_clear_handle_id (&dev->out_watch, g_source_remove);
  g_clear_handle_id (&dev->pause_timer, g_source_remove);
  dev->pause_timer = g_timeout_add (ms, on_pause_over, dev);
}

/* Consumes input: commands, and the binary payloads some of them announce. */
static void
consume (SimDevice *dev, const guint8 *data, gsize len)
{
  gsize used = 0;

  while (used < len && !dev->close_after_flush)
    {
      if (dev->binary_left > 0)
        {
          gsize take = (gsize) MIN ((guint64) (len - used), dev->binary_left);
          if (dev->binary_is_image)
            {
              memcpy (dev->image->data + dev->binary_offset, data + used, take);
              dev->binary_offset += (guint32) take;
            }
          dev->binary_left -= take;
          used += take;
          if (dev->binary_left == 0 && dev->binary_is_image)
            dock_write_done (dev);
          else if (dev->binary_left == 0)
            send_line (dev, "OK");
          continue;
        }
      if (data[used] == '\n')
        {
          handle_line (dev, dev->line->str);
          g_string_truncate (dev->line, 0);
        }
      else if (dev->line->len < MAX_LINE)
        g_string_append_c (dev->line, (char) data[used]);
      used++;
    }
}

/* After a batch of input, or when the peer can take more: writes what is
 * queued, ends the channel when a fault or a reset says so. */
static void
channel_service_output (SimDevice *dev)
{
  if (!flush_out (dev))
    {
      channel_close (dev);
      return;
    }
  if (dev->out->len == 0 && dev->source_left == 0 && dev->close_after_flush)
    {
      dev->close_after_flush = FALSE;
      device_detach (dev);
      return;
    }
  channel_arm (dev);
}

static gboolean
on_channel_in (int fd, GIOCondition cond, gpointer user_data)
{
  SimDevice *dev = user_data;
  static guint8 buf[IO_BUF];
  ssize_t n = recv (fd, buf, sizeof buf, 0);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      dev->in_watch = 0;
      channel_close (dev);
      return G_SOURCE_REMOVE;
    }
  count_io (dev, (gsize) n);
  consume (dev, buf, (gsize) n);
  if (dev->slow_ms > 0 && dev->out->len > 0)
    {
      /* The answer waits: "answers slowly". */
      dev->in_watch = 0;
      channel_pause (dev, dev->slow_ms);
      return G_SOURCE_REMOVE;
    }
  dev->in_watch = 0;
  channel_service_output (dev);
  return G_SOURCE_REMOVE;
}

static gboolean
on_channel_out (int fd, GIOCondition cond, gpointer user_data)
{
  SimDevice *dev = user_data;

  dev->out_watch = 0;
  channel_service_output (dev);
  return G_SOURCE_REMOVE;
}

/* Watches the channel for what it needs next: output space while output
 * is queued (the peer's reading paces us), input otherwise. */
static void
channel_arm (SimDevice *dev)
{
  if (dev->fd < 0 || dev->pause_timer != 0)
    return;
  if (dev->out->len > 0 || dev->source_left > 0)
    {
      if (dev->out_watch == 0)
        dev->out_watch = g_unix_fd_add (dev->fd, G_IO_OUT, on_channel_out, dev);
      g_clear_handle_id (&dev->in_watch, g_source_remove);
    }
  else
    {
      if (dev->in_watch == 0)
        dev->in_watch = g_unix_fd_add (dev->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_channel_in, dev);
      g_clear_handle_id (&dev->out_watch, g_source_remove);
    }
}

static void
channel_close (SimDevice *dev)
{
  g_clear_handle_id (&dev->in_watch, g_source_remove);
  g_clear_handle_id (&dev->out_watch, g_source_remove);
  g_clear_handle_id (&dev->pause_timer, g_source_remove);
  if (dev->fd >= 0)
    close (dev->fd);
  dev->fd = -1;
  g_string_truncate (dev->line, 0);
  g_byte_array_set_size (dev->out, 0);
  dev->source_left = dev->binary_left = 0;
  dev->close_after_flush = FALSE;
}

/* A new channel: @fd, just accepted. As a device serves one open at a
 * time, it replaces the previous channel. */
static void
channel_serve (SimDevice *dev, int fd)
{
  channel_close (dev);
  dev->fd = fd;
  dev->opens++;
  /* A sync starts from the first record not acknowledged. */
  dev->cursor = dev->transfer_start = dev->first_unacked;
  channel_arm (dev);
}

/* ---- the node ---- */

static gboolean
on_node_connection (int listen_fd, GIOCondition cond, gpointer user_data)
{
  SimDevice *dev = user_data;
  int fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

  if (fd >= 0)
    channel_serve (dev, fd);
  else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
    g_warning ("%s: accept on %s: %s", dev->id, dev->node, g_strerror (errno));
  return G_SOURCE_CONTINUE;
}

/* Unplugged: the node goes away, so that an open fails as on a detached
 * device; connections not yet accepted are reset. */
static void
node_close (SimDevice *dev)
{
  g_clear_handle_id (&dev->listen_watch, g_source_remove);
  if (dev->listen_fd < 0)
    return;
  close (dev->listen_fd);
  dev->listen_fd = -1;
  if (unlink (dev->node) < 0 && errno != ENOENT)
    g_warning ("%s: cannot remove %s: %s", dev->id, dev->node, g_strerror (errno));
}

static gboolean
node_open (SimDevice *dev, GError **error)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct stat st;
  int fd;

  if (dev->listen_fd >= 0)
    return TRUE;
  /* A node left by a simulator that was killed: ours to replace. */
  if (lstat (dev->node, &st) == 0 && S_ISSOCK (st.st_mode))
    unlink (dev->node);
  g_strlcpy (addr.sun_path, dev->node, sizeof addr.sun_path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      listen (fd, LISTEN_BACKLOG) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot listen on %s: %s", dev->node, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  dev->listen_fd = fd;
  dev->listen_watch = g_unix_fd_add (fd, G_IO_IN, on_node_connection, dev);
  return TRUE;
}

/* ---- devices ---- */

/* Plugged in: the node first, so that devbgd may open the device as soon
 * as it hears of it. */
static gboolean
device_plug (SimDevice *dev, GError **error)
{
  if (!node_open (dev, error))
    return FALSE;
  dev->attached = TRUE;
  dev->plug++;
  emit (dev, "DeviceAdded", TRUE);
  return TRUE;
}

static gboolean
device_attach (SimDevice *dev, GError **error)
{
  if (dev->attached)
    return TRUE;
  return device_plug (dev, error);
}

/* Unplugged: the channel ends, the node goes, devbgd sees a removal. */
static void
device_detach (SimDevice *dev)
{
  channel_close (dev);
  node_close (dev);
  if (!dev->attached)
    return;
  dev->attached = FALSE;
  g_info ("%s: detached", dev->id);
  emit (dev, "DeviceRemoved", FALSE);
}

static void
device_free (SimDevice *dev)
{
  channel_close (dev);
  node_close (dev);
  g_clear_handle_id (&dev->reset_timer, g_source_remove);
  if (dev->counter != NULL)
    munmap (dev->counter, sizeof (guint64));
  if (dev->counter_fd >= 0)
    close (dev->counter_fd);
  g_string_free (dev->line, TRUE);
  g_byte_array_unref (dev->out);
  g_clear_pointer (&dev->image, g_byte_array_unref);
  g_free (dev->id);
  g_free (dev->node);
  g_free (dev->name);
  g_free (dev->serial);
  g_free (dev->protocol);
  g_free (dev->model_id);
  g_free (dev->container_id);
  g_strfreev (dev->hardware_ids);
  g_free (dev->fw_version);
  g_free (dev->new_version);
  g_free (dev);
}

/* The counter lives in a sealed memfd so that devbgd reads it with a plain
 * load: no message, no wake-up of either process. */
static gboolean
counter_create (SimDevice *dev, GError **error)
{
  dev->counter_fd = memfd_create ("devbg-sim-io-counter", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (dev->counter_fd < 0 || ftruncate (dev->counter_fd, sizeof (guint64)) < 0 ||
      fcntl (dev->counter_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "memfd: %s",
                   g_strerror (errno));
      return FALSE;
    }
  dev->counter = mmap (NULL, sizeof (guint64), PROT_READ | PROT_WRITE, MAP_SHARED,
                       dev->counter_fd, 0);
  if (dev->counter == MAP_FAILED)
    {
      dev->counter = NULL;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "mmap: %s",
                   g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static const char *
opt_string (GVariant *options, const char *key, const char *fallback)
{
  const char *value = NULL;

  if (options != NULL && g_variant_lookup (options, key, "&s", &value))
    return value;
  return fallback;
}

static guint
opt_uint (GVariant *options, const char *key, guint fallback)
{
  guint32 value;

  if (options != NULL && g_variant_lookup (options, key, "u", &value))
    return value;
  return fallback;
}

static void
band_setup (SimDevice *dev, GVariant *options, guint index)
{
  const char *flavour = opt_string (options, "flavour", "usb");

  dev->serial = g_strdup (opt_string (options, "serial", NULL));
  if (dev->serial == NULL)
    dev->serial = g_strdup_printf ("B0A1-%04u", index);
  dev->name = g_strdup (opt_string (options, "name", "devbg-sim fitness band"));
  dev->records_total = opt_uint (options, "records", 100);
  dev->first_unacked = 1;
  /* Units of one model share it (one use consent covers them all); a
   * test makes a band of another model with model-id=... */
  dev->model_id = g_strdup (opt_string (options, "model-id", "{b0a1b0a1-5e9d-4f6b-9a51-3c0d1e2f0b01}"));
  if (g_str_equal (flavour, "rfcomm"))
    {
      dev->protocol = g_strdup ("bluetooth-rfcomm");
      dev->hardware_ids = g_strdupv ((char *[]) {
        "BTHENUM\\{00001101-0000-1000-8000-00805f9b34fb}_VID&00021209_PID&B0A1",
        "BTHENUM\\{00001101-0000-1000-8000-00805f9b34fb}", NULL });
    }
  else
    {
      dev->protocol = g_strdup ("usb");
      dev->hardware_ids = g_strdupv ((char *[]) {
        "USB\\VID_1209&PID_B0A1&REV_0100", "USB\\VID_1209&PID_B0A1", NULL });
    }
}

static void
dock_setup (SimDevice *dev, GVariant *options, guint index)
{
  dev->serial = g_strdup (opt_string (options, "serial", NULL));
  if (dev->serial == NULL)
    dev->serial = g_strdup_printf ("D0C1-%04u", index);
  dev->name = g_strdup (opt_string (options, "name", "devbg-sim USB dock"));
  dev->protocol = g_strdup ("usb");
  dev->model_id = g_strdup ("{5a1d0c11-6a0e-4c47-9d3c-2f1e0b5d0c01}");
  dev->hardware_ids = g_strdupv ((char *[]) {
    "USB\\VID_1209&PID_D0C1&REV_0100", "USB\\VID_1209&PID_D0C1", NULL });
  dev->fw_version = g_strdup (opt_string (options, "firmware-version", "1.0.0"));
  dev->reset_delay_ms = opt_uint (options, "reset-delay-ms", 500);
}

/* `devbg-sim ctl add ... mode=0600` sends the digits as a number; they
 * are read as octal either way. */
static void
sim_setup_owner (SimDevice *dev, GVariant *options)
{
  g_autofree char *text = NULL;
  const char *s;
  guint32 u;

  if (options == NULL)
    return;
  if (g_variant_lookup (options, "mode", "&s", &s))
    text = g_strdup (s);
  else if (g_variant_lookup (options, "mode", "u", &u))
    text = g_strdup_printf ("%u", u);
  else
    return;
  dev->has_owner = TRUE;
  dev->mode = (guint32) g_ascii_strtoull (text, NULL, 8) & 0777;
  dev->owner_uid = opt_uint (options, "owner", 0);
  dev->owner_gid = opt_uint (options, "group", 0);
}

/* The device's node, <socket dir>/<id>: the ID names a file of that
 * directory, and the path must fit a sockaddr_un. */
static char *
node_path (DevbgSimServer *sim, const char *id, GError **error)
{
  g_autofree char *path = NULL;

  if (id[0] == '\0' || strchr (id, '/') != NULL || g_str_equal (id, ".") ||
      g_str_equal (id, ".."))
    {
      g_set_error (error, DEVBG_SIM_ERROR, DEVBG_SIM_ERROR_INVALID,
                   "device ID '%s' cannot name a node (empty, '.', '..' or with a '/')", id);
      return NULL;
    }
  path = g_build_filename (sim->socket_dir, id, NULL);
  if (strlen (path) >= sizeof ((struct sockaddr_un *) NULL)->sun_path)
    {
      g_set_error (error, DEVBG_SIM_ERROR, DEVBG_SIM_ERROR_INVALID,
                   "node %s of device '%s' is too long for a unix socket (at most %zu bytes)",
                   path, id, sizeof ((struct sockaddr_un *) NULL)->sun_path - 1);
      return NULL;
    }
  return g_steal_pointer (&path);
}

const char *
devbg_sim_server_add (DevbgSimServer *sim, const char *kind, GVariant *options, GError **error)
{
  SimDevice *dev;
  Kind k;
  guint index;
  const char *id;

  if (g_strcmp0 (kind, "band") == 0)
    k = KIND_BAND;
  else if (g_strcmp0 (kind, "dock") == 0)
    k = KIND_DOCK;
  else
    {
      g_set_error (error, DEVBG_SIM_ERROR, DEVBG_SIM_ERROR_INVALID,
                   "no device kind '%s' (band, dock)", kind);
      return NULL;
    }
  index = sim->next_index[k]++;
  dev = g_new0 (SimDevice, 1);
  dev->sim = sim;
  dev->kind = k;
  dev->fd = dev->counter_fd = -1;
  dev->line = g_string_new (NULL);
  dev->out = g_byte_array_new ();
  dev->listen_fd = -1;
  id = opt_string (options, "id", NULL);
  dev->id = id != NULL ? g_strdup (id) : g_strdup_printf ("%s%u", kind, index);
  if (g_hash_table_contains (sim->devices, dev->id))
    {
      g_set_error (error, DEVBG_SIM_ERROR, DEVBG_SIM_ERROR_INVALID,
                   "a device '%s' exists already", dev->id);
      device_free (dev);
      return NULL;
    }
  if ((dev->node = node_path (sim, dev->id, error)) == NULL || !counter_create (dev, error))
    {
      device_free (dev);
      return NULL;
    }
  if (k == KIND_BAND)
    band_setup (dev, options, index);
  else
    dock_setup (dev, options, index);
  /* owner=UID group=GID mode=0600 (octal as text, or a number): who may
   * open it, as a device node's owner and mode would say. */
  sim_setup_owner (dev, options);
  dev->container_id = g_compute_checksum_for_string (G_CHECKSUM_MD5, dev->serial, -1);
  g_hash_table_insert (sim->devices, dev->id, dev);
  if (!device_attach (dev, error))
    {
      g_hash_table_remove (sim->devices, dev->id);
      return NULL;
    }
  return dev->id;
}

static SimDevice *
lookup (DevbgSimServer *sim, const char *id, GError **error)
{
  SimDevice *dev = g_hash_table_lookup (sim->devices, id);

  if (dev == NULL)
    g_set_error (error, DEVBG_SIM_ERROR, DEVBG_SIM_ERROR_NO_SUCH_DEVICE,
                 "no simulated device '%s'", id);
  return dev;
}

gboolean
devbg_sim_server_set_fault (DevbgSimServer *sim, const char *id, const char *fault,
                            guint value, GError **error)
{
  SimDevice *dev = lookup (sim, id, error);

  if (dev == NULL)
    return FALSE;
  if (g_str_equal (fault, "stall"))
    {
      if (value > 0 && dev->fd >= 0)
        channel_pause (dev, value * 1000);
      else if (value == 0 && dev->pause_timer != 0)
        {
          g_clear_handle_id (&dev->pause_timer, g_source_remove);
          channel_arm (dev);
        }
    }
  else if (g_str_equal (fault, "detach-at") && value <= 100)
    dev->detach_at_pct = value;
  else if (g_str_equal (fault, "slow"))
    dev->slow_ms = value;
  else if (g_str_equal (fault, "corrupt-chunk"))
    dev->corrupt_chunk = value;
  else if (g_str_equal (fault, "no-return"))
    dev->no_return = value != 0;
  else
    {
      g_set_error (error, DEVBG_SIM_ERROR, DEVBG_SIM_ERROR_INVALID,
                   "no fault '%s' (stall, detach-at, slow, corrupt-chunk, no-return)", fault);
      return FALSE;
    }
  g_info ("%s: fault %s %u", id, fault, value);
  return TRUE;
}

/* ---- D-Bus ---- */

static GVariant *
device_state (SimDevice *dev)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&b, "{sv}", "attached", g_variant_new_boolean (dev->attached));
  g_variant_builder_add (&b, "{sv}", "io-counter",
                         g_variant_new_uint64 (__atomic_load_n (dev->counter, __ATOMIC_RELAXED)));
  g_variant_builder_add (&b, "{sv}", "opens", g_variant_new_uint32 (dev->opens));
  g_variant_builder_add (&b, "{sv}", "channel-open", g_variant_new_boolean (dev->fd >= 0));
  if (dev->kind == KIND_BAND)
    {
      g_variant_builder_add (&b, "{sv}", "records-pending",
                             g_variant_new_uint32 (dev->records_total - dev->first_unacked + 1));
      g_variant_builder_add (&b, "{sv}", "records-acked",
                             g_variant_new_uint32 (dev->first_unacked - 1));
    }
  else
    {
      g_variant_builder_add (&b, "{sv}", "firmware-version", g_variant_new_string (dev->fw_version));
      g_variant_builder_add (&b, "{sv}", "image-state", g_variant_new_string (image_state (dev)));
    }
  return g_variant_builder_end (&b);
}

static GVariant *
list_devices (DevbgSimServer *sim)
{
  GVariantBuilder b;
  GHashTableIter iter;
  gpointer value;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sa{sv})"));
  g_hash_table_iter_init (&iter, sim->devices);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      SimDevice *dev = value;
      if (dev->attached)
        g_variant_builder_add (&b, "(s@a{sv})", dev->id, device_properties (dev));
    }
  return g_variant_new ("(a(sa{sv}))", &b);
}

/* The device's I/O counter, for devbgd to map once: opens go through the
 * node, so the counter, which no open carries, comes this way. */
static void
handle_open_counter (SimDevice *dev, GDBusMethodInvocation *invocation)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GError) error = NULL;

  if (g_unix_fd_list_append (fds, dev->counter_fd, &error) < 0)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value_with_unix_fd_list (invocation,
                                                           g_variant_new ("(h)", 0), fds);
}

/* Methods on one device: OpenCounter, RemoveDevice, Attach, Detach, Rename,
 * SetFault, GetState. */
static void
handle_device_method (DevbgSimServer *sim, const char *method, GVariant *params,
                      GDBusMethodInvocation *invocation)
{
  const char *id;
  SimDevice *dev;
  g_autoptr(GError) error = NULL;

  g_variant_get_child (params, 0, "&s", &id);
  if ((dev = lookup (sim, id, &error)) == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  if (g_str_equal (method, "OpenCounter"))
    {
      handle_open_counter (dev, invocation);
      return;
    }
  if (g_str_equal (method, "GetState"))
    {
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(@a{sv})", device_state (dev)));
      return;
    }
  if (g_str_equal (method, "Attach"))
    {
      if (!device_attach (dev, &error))
        {
          g_dbus_method_invocation_return_gerror (invocation, error);
          return;
        }
    }
  else if (g_str_equal (method, "Detach"))
    device_detach (dev);
  else if (g_str_equal (method, "RemoveDevice"))
    {
      device_detach (dev);
      g_hash_table_remove (sim->devices, id);
    }
  else if (g_str_equal (method, "Rename"))
    {
      g_free (dev->name);
      g_variant_get_child (params, 1, "s", &dev->name);
      if (dev->attached)
        emit (dev, "DeviceChanged", TRUE);
    }
  else if (g_str_equal (method, "SetFault"))
    {
      const char *fault;
      guint32 value;
      g_variant_get (params, "(&s&su)", NULL, &fault, &value);
      if (!devbg_sim_server_set_fault (sim, id, fault, value, &error))
        {
          g_dbus_method_invocation_return_gerror (invocation, error);
          return;
        }
    }
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
on_method_call (GDBusConnection *connection, const char *sender, const char *path,
                const char *iface, const char *method, GVariant *params,
                GDBusMethodInvocation *invocation, gpointer user_data)
{
  DevbgSimServer *sim = user_data;

  if (g_str_equal (method, "ListDevices"))
    g_dbus_method_invocation_return_value (invocation, list_devices (sim));
  else if (g_str_equal (method, "AddDevice"))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) options = NULL;
      const char *kind, *id;
      g_variant_get (params, "(&s@a{sv})", &kind, &options);
      id = devbg_sim_server_add (sim, kind, options, &error);
      if (id == NULL)
        g_dbus_method_invocation_return_gerror (invocation, error);
      else
        g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", id));
    }
  else
    handle_device_method (sim, method, params, invocation);
}

static const GDBusInterfaceVTable sim_vtable = { .method_call = on_method_call };

/* Where the nodes live: @dir (made if missing), or a private directory
 * of ours, mode 0700, removed when we stop. */
static gboolean
socket_dir_setup (DevbgSimServer *sim, const char *dir, GError **error)
{
  if (dir == NULL)
    {
      sim->socket_dir = g_dir_make_tmp ("devbg-sim-XXXXXX", error);
      sim->own_socket_dir = sim->socket_dir != NULL;
      return sim->socket_dir != NULL;
    }
  /* devbgd is given the nodes' paths: they must be absolute. */
  sim->socket_dir = g_canonicalize_filename (dir, NULL);
  if (g_mkdir_with_parents (sim->socket_dir, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot make the socket directory %s: %s", sim->socket_dir,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

DevbgSimServer *
devbg_sim_server_new (GDBusConnection *connection, const char *socket_dir, GError **error)
{
  g_autoptr(DevbgSimServer) sim = g_new0 (DevbgSimServer, 1);
  g_autoptr(GBytes) xml = NULL;

  (void) devbg_sim_error_quark ();
  sim->connection = g_object_ref (connection);
  sim->devices = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                        (GDestroyNotify) device_free);
  if (!socket_dir_setup (sim, socket_dir, error))
    return NULL;
  xml = g_resources_lookup_data ("/org/devbg/sim/org.devbg.Sim1.xml", 0, error);
  if (xml == NULL)
    return NULL;
  sim->introspection = g_dbus_node_info_new_for_xml (g_bytes_get_data (xml, NULL), error);
  if (sim->introspection == NULL)
    return NULL;
  sim->registration_id = g_dbus_connection_register_object (
    connection, DEVBG_SIM_OBJECT_PATH, sim->introspection->interfaces[0], &sim_vtable, sim,
    NULL, error);
  if (sim->registration_id == 0)
    return NULL;
  return g_steal_pointer (&sim);
}

void
devbg_sim_server_free (DevbgSimServer *sim)
{
  if (sim->registration_id != 0)
    g_dbus_connection_unregister_object (sim->connection, sim->registration_id);
  /* The devices first: each removes its node. */
  g_clear_pointer (&sim->devices, g_hash_table_unref);
  if (sim->own_socket_dir && g_rmdir (sim->socket_dir) < 0)
    g_warning ("cannot remove %s: %s", sim->socket_dir, g_strerror (errno));
  g_free (sim->socket_dir);
  g_clear_pointer (&sim->introspection, g_dbus_node_info_unref);
  g_clear_object (&sim->connection);
  g_free (sim);
}
