/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The task control channel: encoder, decoder, and the send/recv wrappers.
 * Wire format: docs/task-channel.md.
 */
#include "devbg-channel.h"
#include "devbg-error.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

void
devbg_channel_message_clear (DevbgChannelMessage *msg)
{
  g_clear_pointer (&msg->instance_id, g_free);
  g_clear_pointer (&msg->task_id, g_free);
  g_clear_pointer (&msg->entry_point, g_free);
  g_clear_pointer (&msg->device_id, g_free);
  g_clear_pointer (&msg->arguments, g_free);
  g_clear_pointer (&msg->detail, g_free);
  g_clear_pointer (&msg->error_message, g_free);
  if (msg->owns_fd && msg->fd >= 0)
    close (msg->fd);
  msg->owns_fd = FALSE;
  msg->fd = -1;
}

int
devbg_channel_message_steal_fd (DevbgChannelMessage *msg)
{
  int fd = msg->owns_fd ? msg->fd : -1;

  msg->owns_fd = FALSE;
  msg->fd = -1;
  return fd;
}

void
devbg_channel_message_free (DevbgChannelMessage *msg)
{
  if (msg == NULL)
    return;
  devbg_channel_message_clear (msg);
  g_free (msg);
}

const char *
devbg_channel_message_type_to_string (DevbgChannelMessageType type)
{
  switch (type)
    {
    case DEVBG_CHANNEL_MSG_TRIGGER: return "trigger";
    case DEVBG_CHANNEL_MSG_CANCEL: return "cancel";
    case DEVBG_CHANNEL_MSG_PROGRESS: return "progress";
    case DEVBG_CHANNEL_MSG_KEEP_ALIVE: return "keep-alive";
    case DEVBG_CHANNEL_MSG_COMPLETE: return "complete";
    case DEVBG_CHANNEL_MSG_DEVICE_REOPENED: return "device-reopened";
    case DEVBG_CHANNEL_MSG_REOPEN_DEVICE: return "reopen-device";
    default: return NULL;
    }
}

DevbgChannelDirection
devbg_channel_message_direction (DevbgChannelMessageType type)
{
  return (type & 0xf0) == 0 ? DEVBG_CHANNEL_TO_TASK : DEVBG_CHANNEL_TO_SERVICE;
}

/* ---- shared validation: the encoder and the decoder apply the same rules */

static gboolean
bad (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
bad (GError **error, const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE,
               "Bad task channel message: %s", text);
  return FALSE;
}

static gboolean
check_string (const char *field,
              const char *value,
              gsize       length,
              gsize       max,
              gboolean    may_be_empty,
              GError    **error)
{
  if (length > max)
    return bad (error, "%s is %" G_GSIZE_FORMAT " bytes long, more than %" G_GSIZE_FORMAT,
                field, length, max);
  if (length == 0 && !may_be_empty)
    return bad (error, "%s is empty", field);
  /* g_utf8_validate_len() also rejects embedded NUL bytes, so a string
   * cannot mean one thing to C and another to the checks. */
  if (!g_utf8_validate_len (value, length, NULL))
    return bad (error, "%s is not valid UTF-8 (or contains a NUL byte)", field);
  return TRUE;
}

static gboolean
check_cancel_reason (guint32 reason, GError **error)
{
  /* QuietHoursEntered is obsolete on Windows and never sent by devbgd. */
  if (reason > DEVBG_CANCEL_ENERGY_SAVER || reason == DEVBG_CANCEL_QUIET_HOURS_ENTERED)
    return bad (error, "unknown cancellation reason %u", reason);
  return TRUE;
}

static gboolean
check_trigger_type (guint32 type, GError **error)
{
  if (type != DEVBG_TRIGGER_USE && type != DEVBG_TRIGGER_SERVICING)
    return bad (error, "unknown trigger type %u", type);
  return TRUE;
}

static gboolean
check_reopen_timeout (guint32 timeout_ms, GError **error)
{
  if (timeout_ms == 0 || timeout_ms > DEVBG_CHANNEL_MAX_REOPEN_TIMEOUT_MS)
    return bad (error, "reopen timeout %u ms is not within 1..%u", timeout_ms,
                DEVBG_CHANNEL_MAX_REOPEN_TIMEOUT_MS);
  return TRUE;
}

/* ---- encoder */

static void
put_u32 (GByteArray *out, guint32 v)
{
  guint32 le = GUINT32_TO_LE (v);
  g_byte_array_append (out, (const guint8 *) &le, 4);
}

static void
put_u64 (GByteArray *out, guint64 v)
{
  guint64 le = GUINT64_TO_LE (v);
  g_byte_array_append (out, (const guint8 *) &le, 8);
}

static gboolean
put_string (GByteArray *out,
            const char *field,
            const char *value,
            gsize       max,
            gboolean    may_be_empty,
            GError    **error)
{
  gsize len;

  if (value == NULL)
    value = "";
  len = strlen (value);
  if (!check_string (field, value, len, max, may_be_empty, error))
    return FALSE;
  put_u32 (out, (guint32) len);
  g_byte_array_append (out, (const guint8 *) value, (guint) len);
  return TRUE;
}

static gboolean
encode_payload (GByteArray *out, const DevbgChannelMessage *msg, GError **error)
{
  switch (msg->type)
    {
    case DEVBG_CHANNEL_MSG_TRIGGER:
      if (!put_string (out, "instance ID", msg->instance_id, DEVBG_CHANNEL_MAX_ID, FALSE, error) ||
          !put_string (out, "task ID", msg->task_id, DEVBG_CHANNEL_MAX_ID, FALSE, error) ||
          !put_string (out, "entry point", msg->entry_point, DEVBG_CHANNEL_MAX_ENTRY_POINT, FALSE, error) ||
          !put_string (out, "device ID", msg->device_id, DEVBG_CHANNEL_MAX_DEVICE_ID, FALSE, error) ||
          !put_string (out, "arguments", msg->arguments, DEVBG_CHANNEL_MAX_ARGUMENTS, TRUE, error))
        return FALSE;
      if (!check_trigger_type (msg->trigger_type, error))
        return FALSE;
      put_u64 (out, msg->expected_duration_ms);
      put_u32 (out, msg->trigger_type);
      return TRUE;
    case DEVBG_CHANNEL_MSG_CANCEL:
      if (!check_cancel_reason (msg->reason, error))
        return FALSE;
      put_u32 (out, msg->reason);
      return put_string (out, "cancel detail", msg->detail, DEVBG_CHANNEL_MAX_DETAIL, TRUE, error);
    case DEVBG_CHANNEL_MSG_PROGRESS:
      put_u32 (out, msg->progress);
      return TRUE;
    case DEVBG_CHANNEL_MSG_KEEP_ALIVE:
      return TRUE;
    case DEVBG_CHANNEL_MSG_COMPLETE:
    case DEVBG_CHANNEL_MSG_DEVICE_REOPENED:
      {
        const char *m = msg->error_message != NULL ? msg->error_message : "";
        guint8 success = msg->success ? 1 : 0;

        if (msg->success && *m != '\0')
          return bad (error, "a successful %s carries an error message",
                      msg->type == DEVBG_CHANNEL_MSG_COMPLETE ? "completion" : "reopen");
        g_byte_array_append (out, &success, 1);
        return put_string (out, "error message", m, DEVBG_CHANNEL_MAX_ERROR, msg->success, error);
      }
    case DEVBG_CHANNEL_MSG_REOPEN_DEVICE:
      if (!check_reopen_timeout (msg->timeout_ms, error))
        return FALSE;
      put_u32 (out, msg->timeout_ms);
      return TRUE;
    default:
      return bad (error, "unknown message type 0x%02x", (guint) msg->type);
    }
}

GBytes *
devbg_channel_encode (const DevbgChannelMessage *msg, GError **error)
{
  g_autoptr(GByteArray) out = g_byte_array_sized_new (64);
  guint8 header[DEVBG_CHANNEL_HEADER_SIZE] = { DEVBG_CHANNEL_VERSION, (guint8) msg->type, 0, 0 };
  guint32 payload_len;

  g_byte_array_append (out, header, sizeof header);
  if (!encode_payload (out, msg, error))
    return NULL;
  if (out->len > DEVBG_CHANNEL_MAX_FRAME)
    {
      bad (error, "%u bytes, more than the limit of %u", out->len, DEVBG_CHANNEL_MAX_FRAME);
      return NULL;
    }
  payload_len = GUINT32_TO_LE (out->len - DEVBG_CHANNEL_HEADER_SIZE);
  memcpy (out->data + 4, &payload_len, 4);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

GBytes *
devbg_channel_encode_progress (guint32 progress)
{
  DevbgChannelMessage msg = { .type = DEVBG_CHANNEL_MSG_PROGRESS, .progress = progress };

  return devbg_channel_encode (&msg, NULL);
}

GBytes *
devbg_channel_encode_keep_alive (void)
{
  DevbgChannelMessage msg = { .type = DEVBG_CHANNEL_MSG_KEEP_ALIVE };

  return devbg_channel_encode (&msg, NULL);
}

GBytes *
devbg_channel_encode_cancel (DevbgCancelReason reason, const char *detail, GError **error)
{
  DevbgChannelMessage msg = { .type = DEVBG_CHANNEL_MSG_CANCEL, .reason = reason,
                              .detail = (char *) detail };

  return devbg_channel_encode (&msg, error);
}

GBytes *
devbg_channel_encode_complete (gboolean success, const char *error_message, GError **error)
{
  DevbgChannelMessage msg = { .type = DEVBG_CHANNEL_MSG_COMPLETE, .success = success,
                              .error_message = (char *) error_message };

  return devbg_channel_encode (&msg, error);
}

GBytes *
devbg_channel_encode_reopen_device (guint32 timeout_ms, GError **error)
{
  DevbgChannelMessage msg = { .type = DEVBG_CHANNEL_MSG_REOPEN_DEVICE, .timeout_ms = timeout_ms };

  return devbg_channel_encode (&msg, error);
}

/* ---- decoder */

typedef struct {
  const guint8 *data;
  gsize         size;
  gsize         pos;
} Reader;

static gboolean
need (Reader *r, gsize n, const char *field, GError **error)
{
  if (r->size - r->pos < n)
    return bad (error, "truncated at %s (offset %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                " more bytes needed, %" G_GSIZE_FORMAT " left)",
                field, r->pos, n, r->size - r->pos);
  return TRUE;
}

static gboolean
get_u8 (Reader *r, const char *field, guint8 *out, GError **error)
{
  if (!need (r, 1, field, error))
    return FALSE;
  *out = r->data[r->pos++];
  return TRUE;
}

static gboolean
get_u32 (Reader *r, const char *field, guint32 *out, GError **error)
{
  guint32 le;

  if (!need (r, 4, field, error))
    return FALSE;
  memcpy (&le, r->data + r->pos, 4);
  r->pos += 4;
  *out = GUINT32_FROM_LE (le);
  return TRUE;
}

static gboolean
get_u64 (Reader *r, const char *field, guint64 *out, GError **error)
{
  guint64 le;

  if (!need (r, 8, field, error))
    return FALSE;
  memcpy (&le, r->data + r->pos, 8);
  r->pos += 8;
  *out = GUINT64_FROM_LE (le);
  return TRUE;
}

static gboolean
get_string (Reader     *r,
            const char *field,
            gsize       max,
            gboolean    may_be_empty,
            char      **out,
            GError    **error)
{
  guint32 len;
  const char *bytes;

  if (!get_u32 (r, field, &len, error))
    return FALSE;
  /* Check the limit before the remaining size, so a huge length gets the
   * clearer message. */
  if (len > max)
    return bad (error, "%s is %u bytes long, more than %" G_GSIZE_FORMAT, field, len, max);
  if (!need (r, len, field, error))
    return FALSE;
  bytes = (const char *) r->data + r->pos;
  if (!check_string (field, bytes, len, max, may_be_empty, error))
    return FALSE;
  *out = g_strndup (bytes, len);
  r->pos += len;
  return TRUE;
}

static gboolean
decode_trigger (Reader *r, DevbgChannelMessage *msg, GError **error)
{
  guint32 type;

  if (!get_string (r, "instance ID", DEVBG_CHANNEL_MAX_ID, FALSE, &msg->instance_id, error) ||
      !get_string (r, "task ID", DEVBG_CHANNEL_MAX_ID, FALSE, &msg->task_id, error) ||
      !get_string (r, "entry point", DEVBG_CHANNEL_MAX_ENTRY_POINT, FALSE, &msg->entry_point, error) ||
      !get_string (r, "device ID", DEVBG_CHANNEL_MAX_DEVICE_ID, FALSE, &msg->device_id, error) ||
      !get_string (r, "arguments", DEVBG_CHANNEL_MAX_ARGUMENTS, TRUE, &msg->arguments, error) ||
      !get_u64 (r, "expected duration", &msg->expected_duration_ms, error) ||
      !get_u32 (r, "trigger type", &type, error))
    return FALSE;
  if (!check_trigger_type (type, error))
    return FALSE;
  msg->trigger_type = (DevbgTriggerType) type;
  return TRUE;
}

static gboolean
decode_cancel (Reader *r, DevbgChannelMessage *msg, GError **error)
{
  guint32 reason;

  if (!get_u32 (r, "cancellation reason", &reason, error) ||
      !check_cancel_reason (reason, error))
    return FALSE;
  msg->reason = (DevbgCancelReason) reason;
  return get_string (r, "cancel detail", DEVBG_CHANNEL_MAX_DETAIL, TRUE, &msg->detail, error);
}

static gboolean
decode_complete (Reader *r, DevbgChannelMessage *msg, GError **error)
{
  guint8 success;

  if (!get_u8 (r, "success flag", &success, error))
    return FALSE;
  if (success > 1)
    return bad (error, "success flag is %u, not 0 or 1", success);
  msg->success = success;
  /* An empty message on failure would leave the app with no explanation;
   * a message on success would be ignored: both are refused. */
  if (!get_string (r, "error message", DEVBG_CHANNEL_MAX_ERROR, TRUE, &msg->error_message, error))
    return FALSE;
  if (success && msg->error_message[0] != '\0')
    return bad (error, "a successful %s carries an error message",
                msg->type == DEVBG_CHANNEL_MSG_COMPLETE ? "completion" : "reopen");
  if (!success && msg->error_message[0] == '\0')
    return bad (error, "error message is empty");
  return TRUE;
}

static gboolean
decode_payload (Reader *r, DevbgChannelMessage *msg, GError **error)
{
  switch (msg->type)
    {
    case DEVBG_CHANNEL_MSG_TRIGGER:
      return decode_trigger (r, msg, error);
    case DEVBG_CHANNEL_MSG_CANCEL:
      return decode_cancel (r, msg, error);
    case DEVBG_CHANNEL_MSG_PROGRESS:
      return get_u32 (r, "progress", &msg->progress, error);
    case DEVBG_CHANNEL_MSG_KEEP_ALIVE:
      return TRUE;
    case DEVBG_CHANNEL_MSG_COMPLETE:
    case DEVBG_CHANNEL_MSG_DEVICE_REOPENED: /* same payload: u8 ok, string error */
      return decode_complete (r, msg, error);
    case DEVBG_CHANNEL_MSG_REOPEN_DEVICE:
      return get_u32 (r, "reopen timeout", &msg->timeout_ms, error) &&
             check_reopen_timeout (msg->timeout_ms, error);
    default:
      g_assert_not_reached ();
    }
}

static gboolean
decode_header (const guint8          *data,
               gsize                  size,
               DevbgChannelDirection  direction,
               DevbgChannelMessageType *type,
               GError               **error)
{
  guint32 payload_len;
  const char *name;

  if (size < DEVBG_CHANNEL_HEADER_SIZE)
    return bad (error, "%" G_GSIZE_FORMAT " bytes, shorter than the %u-byte header",
                size, DEVBG_CHANNEL_HEADER_SIZE);
  if (size > DEVBG_CHANNEL_MAX_FRAME)
    return bad (error, "%" G_GSIZE_FORMAT " bytes, more than the limit of %u",
                size, DEVBG_CHANNEL_MAX_FRAME);
  if (data[0] != DEVBG_CHANNEL_VERSION)
    return bad (error, "unsupported version %u (expected %u)", data[0], DEVBG_CHANNEL_VERSION);
  name = devbg_channel_message_type_to_string (data[1]);
  if (name == NULL)
    return bad (error, "unknown message type 0x%02x", data[1]);
  if (devbg_channel_message_direction (data[1]) != direction)
    return bad (error, "a %s message is not allowed in this direction", name);
  if (data[2] != 0 || data[3] != 0)
    return bad (error, "reserved header bytes are not zero");
  memcpy (&payload_len, data + 4, 4);
  payload_len = GUINT32_FROM_LE (payload_len);
  if (payload_len != size - DEVBG_CHANNEL_HEADER_SIZE)
    return bad (error, "header says %u payload bytes, the packet has %" G_GSIZE_FORMAT,
                payload_len, size - DEVBG_CHANNEL_HEADER_SIZE);
  *type = data[1];
  return TRUE;
}

DevbgChannelMessage *
devbg_channel_decode (const guint8          *data,
                      gsize                  size,
                      DevbgChannelDirection  direction,
                      GError               **error)
{
  g_autoptr(DevbgChannelMessage) msg = g_new0 (DevbgChannelMessage, 1);
  Reader r = { data, size, DEVBG_CHANNEL_HEADER_SIZE };

  msg->fd = -1;
  if (!decode_header (data, size, direction, &msg->type, error))
    return NULL;
  if (!decode_payload (&r, msg, error))
    return NULL;
  if (r.pos != size)
    {
      bad (error, "%" G_GSIZE_FORMAT " unexpected bytes after a %s message",
           size - r.pos, devbg_channel_message_type_to_string (msg->type));
      return NULL;
    }
  return g_steal_pointer (&msg);
}

/* ---- I/O */

static gboolean
set_io_error (GError **error, int errsv, const char *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               "Task channel %s failed: %s", what, g_strerror (errsv));
  return FALSE;
}

/* Sends @packet, with @pass_fd (when >= 0) as SCM_RIGHTS in the same
 * packet, so the fd and the message that explains it cannot be separated. */
static gboolean
send_packet (int fd, GBytes *packet, int pass_fd, GError **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (packet, &size);
  union { struct cmsghdr h; char buf[CMSG_SPACE (sizeof (int))]; } cmsg;
  struct iovec iov = { (void *) data, size };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  ssize_t n;

  if (pass_fd >= 0)
    {
      memset (&cmsg, 0, sizeof cmsg);
      mh.msg_control = cmsg.buf;
      mh.msg_controllen = sizeof cmsg.buf;
      cmsg.h.cmsg_level = SOL_SOCKET;
      cmsg.h.cmsg_type = SCM_RIGHTS;
      cmsg.h.cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (&cmsg.h), &pass_fd, sizeof pass_fd);
    }
  do
    n = sendmsg (fd, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return set_io_error (error, errno, "send");
  /* SOCK_SEQPACKET sends a packet whole or not at all. */
  if ((gsize) n != size)
    return set_io_error (error, EMSGSIZE, "send");
  return TRUE;
}

gboolean
devbg_channel_send_bytes (int fd, GBytes *packet, GError **error)
{
  return send_packet (fd, packet, -1, error);
}

gboolean
devbg_channel_send (int fd, const DevbgChannelMessage *msg, GError **error)
{
  g_autoptr(GBytes) packet = NULL;

  /* msg->fd of a zero-initialised message is 0, not "none": rather than
   * guess, the one message with an fd has its own sender. */
  if (msg->type == DEVBG_CHANNEL_MSG_DEVICE_REOPENED && msg->success)
    return bad (error, "a successful device-reopened message is sent with "
                "devbg_channel_send_device_reopened(), which passes the fd");
  packet = devbg_channel_encode (msg, error);
  if (packet == NULL)
    return FALSE;
  return send_packet (fd, packet, -1, error);
}

gboolean
devbg_channel_send_device_reopened (int fd, int device_fd, const char *error_message,
                                    GError **error)
{
  DevbgChannelMessage msg = {
    .type = DEVBG_CHANNEL_MSG_DEVICE_REOPENED,
    .success = device_fd >= 0,
    .error_message = device_fd >= 0 ? NULL : (char *) error_message,
  };
  g_autoptr(GBytes) packet = devbg_channel_encode (&msg, error);

  if (packet == NULL)
    return FALSE;
  return send_packet (fd, packet, device_fd, error);
}

/* Collects the fds of every SCM_RIGHTS message in @mh into @fds; returns
 * FALSE if any other kind of ancillary data came (credentials...). */
static gboolean
collect_fds (struct msghdr *mh, GArray *fds)
{
  gboolean only_rights = TRUE;

  for (struct cmsghdr *c = CMSG_FIRSTHDR (mh); c != NULL; c = CMSG_NXTHDR (mh, c))
    {
      gsize n;

      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
        {
          only_rights = FALSE;
          continue;
        }
      n = (c->cmsg_len - CMSG_LEN (0)) / sizeof (int);
      for (gsize i = 0; i < n; i++)
        {
          int passed;

          memcpy (&passed, CMSG_DATA (c) + i * sizeof (int), sizeof passed);
          g_array_append_val (fds, passed);
        }
    }
  return only_rights;
}

static void
close_fds (GArray *fds)
{
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  g_array_set_size (fds, 0);
}

/* The one fd rule: exactly one fd on a successful DEVICE_REOPENED towards
 * the task, none anywhere else. On success the fd moves into @msg. */
static gboolean
attach_fd (DevbgChannelMessage *msg, GArray *fds, GError **error)
{
  gboolean wants_fd = msg->type == DEVBG_CHANNEL_MSG_DEVICE_REOPENED && msg->success;

  if (!wants_fd && fds->len > 0)
    return bad (error, "a %s message carries ancillary data (%u file descriptors)",
                devbg_channel_message_type_to_string (msg->type), fds->len);
  if (wants_fd && fds->len != 1)
    return bad (error, "a successful device-reopened message carries %u file descriptors, "
                "not exactly one", fds->len);
  if (wants_fd)
    {
      msg->fd = g_array_index (fds, int, 0);
      msg->owns_fd = TRUE;
      g_array_set_size (fds, 0);
    }
  return TRUE;
}

gboolean
devbg_channel_recv (int                    fd,
                    DevbgChannelDirection  direction,
                    DevbgChannelMessage  **out_msg,
                    GError               **error)
{
  /* One byte more than the limit, and MSG_TRUNC on top, so an oversized
   * packet is seen as such rather than cut to a plausible one. */
  g_autofree guint8 *buf = g_malloc (DEVBG_CHANNEL_MAX_FRAME + 1);
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(DevbgChannelMessage) msg = NULL;
  /* Room for a few fds, so that two fds read as "two fds", not as a
   * truncated control message; more than that is MSG_CTRUNC. The task
   * side alone accepts fds at all: devbgd gives no room, so the kernel
   * closes whatever a task tries to pass. */
  union { struct cmsghdr h; char buf[CMSG_SPACE (4 * sizeof (int))]; } cmsg;
  struct iovec iov = { buf, DEVBG_CHANNEL_MAX_FRAME + 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  gboolean only_rights;
  ssize_t n;

  *out_msg = NULL;
  if (direction == DEVBG_CHANNEL_TO_TASK)
    {
      mh.msg_control = cmsg.buf;
      mh.msg_controllen = sizeof cmsg.buf;
    }
  do
    n = recvmsg (fd, &mh, MSG_TRUNC | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return set_io_error (error, errno, "receive");
  only_rights = collect_fds (&mh, fds);
  if (n == 0)
    {
      close_fds (fds);
      return TRUE;
    }
  if ((mh.msg_flags & MSG_CTRUNC) || !only_rights)
    {
      close_fds (fds);
      return bad (error, "carries ancillary data (file descriptors or credentials) "
                  "that is not allowed");
    }
  if ((mh.msg_flags & MSG_TRUNC) || n > DEVBG_CHANNEL_MAX_FRAME)
    {
      close_fds (fds);
      return bad (error, "%zd bytes, more than the limit of %u", n, DEVBG_CHANNEL_MAX_FRAME);
    }
  msg = devbg_channel_decode (buf, (gsize) n, direction, error);
  if (msg == NULL || !attach_fd (msg, fds, error))
    {
      close_fds (fds);
      return FALSE;
    }
  *out_msg = g_steal_pointer (&msg);
  return TRUE;
}
