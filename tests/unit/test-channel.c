/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The task control channel: round trips of every message, and each kind of
 * malformed packet refused with DEVBG_ERROR_BAD_MESSAGE.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "devbg-channel.h"
#include "devbg-error.h"

static DevbgChannelMessage *
round_trip (const DevbgChannelMessage *msg, DevbgChannelDirection dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) packet = devbg_channel_encode (msg, &error);
  DevbgChannelMessage *back;
  gsize size;
  const guint8 *data;

  g_assert_no_error (error);
  g_assert_nonnull (packet);
  data = g_bytes_get_data (packet, &size);
  back = devbg_channel_decode (data, size, dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_cmpint (back->type, ==, msg->type);
  return back;
}

static void
test_round_trip_trigger (void)
{
  DevbgChannelMessage msg = {
    .type = DEVBG_CHANNEL_MSG_TRIGGER,
    .instance_id = (char *) "42",
    .task_id = (char *) "0b0e8a5e-2f5d-4c4e-9d6b-3a8f2e1c7d90",
    .entry_point = (char *) "Vendor.Sync",
    .device_id = (char *) "usb:1209:0001:serial-é",
    .arguments = (char *) "mode=full\nnote=üñí",
    .expected_duration_ms = G_GUINT64_CONSTANT (0x1122334455667788),
    .trigger_type = DEVBG_TRIGGER_SERVICING,
  };
  g_autoptr(DevbgChannelMessage) back = round_trip (&msg, DEVBG_CHANNEL_TO_TASK);

  g_assert_cmpstr (back->instance_id, ==, msg.instance_id);
  g_assert_cmpstr (back->task_id, ==, msg.task_id);
  g_assert_cmpstr (back->entry_point, ==, msg.entry_point);
  g_assert_cmpstr (back->device_id, ==, msg.device_id);
  g_assert_cmpstr (back->arguments, ==, msg.arguments);
  g_assert_cmpuint (back->expected_duration_ms, ==, msg.expected_duration_ms);
  g_assert_cmpint (back->trigger_type, ==, DEVBG_TRIGGER_SERVICING);

  /* Empty (NULL) arguments are allowed. */
  msg.arguments = NULL;
  msg.trigger_type = DEVBG_TRIGGER_USE;
  g_autoptr(DevbgChannelMessage) back2 = round_trip (&msg, DEVBG_CHANNEL_TO_TASK);
  g_assert_cmpstr (back2->arguments, ==, "");
  g_assert_cmpint (back2->trigger_type, ==, DEVBG_TRIGGER_USE);
}

static void
test_round_trip_cancel (void)
{
  for (guint r = DEVBG_CANCEL_ABORT; r <= DEVBG_CANCEL_ENERGY_SAVER; r++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) packet = devbg_channel_encode_cancel (r, "device removed", &error);
      g_autoptr(DevbgChannelMessage) back = NULL;

      if (r == DEVBG_CANCEL_QUIET_HOURS_ENTERED)
        {
          g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
          continue;
        }
      g_assert_no_error (error);
      back = devbg_channel_decode (g_bytes_get_data (packet, NULL), g_bytes_get_size (packet),
                                   DEVBG_CHANNEL_TO_TASK, &error);
      g_assert_no_error (error);
      g_assert_cmpint (back->type, ==, DEVBG_CHANNEL_MSG_CANCEL);
      g_assert_cmpint (back->reason, ==, r);
      g_assert_cmpstr (back->detail, ==, "device removed");
    }
}

static void
test_round_trip_task_messages (void)
{
  DevbgChannelMessage progress = { .type = DEVBG_CHANNEL_MSG_PROGRESS, .progress = G_MAXUINT32 };
  DevbgChannelMessage keep_alive = { .type = DEVBG_CHANNEL_MSG_KEEP_ALIVE };
  DevbgChannelMessage ok = { .type = DEVBG_CHANNEL_MSG_COMPLETE, .success = TRUE };
  DevbgChannelMessage failed = { .type = DEVBG_CHANNEL_MSG_COMPLETE, .success = FALSE,
                                 .error_message = (char *) "Device said NAK" };
  g_autoptr(DevbgChannelMessage) p = round_trip (&progress, DEVBG_CHANNEL_TO_SERVICE);
  g_autoptr(DevbgChannelMessage) k = round_trip (&keep_alive, DEVBG_CHANNEL_TO_SERVICE);
  g_autoptr(DevbgChannelMessage) o = round_trip (&ok, DEVBG_CHANNEL_TO_SERVICE);
  g_autoptr(DevbgChannelMessage) f = round_trip (&failed, DEVBG_CHANNEL_TO_SERVICE);
  g_autoptr(GBytes) bytes = devbg_channel_encode_progress (7);
  const guint8 expected[] = { 1, 0x11, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0 };

  g_assert_cmpuint (p->progress, ==, G_MAXUINT32);
  g_assert_cmpint (k->type, ==, DEVBG_CHANNEL_MSG_KEEP_ALIVE);
  g_assert_true (o->success);
  g_assert_cmpstr (o->error_message, ==, "");
  g_assert_false (f->success);
  g_assert_cmpstr (f->error_message, ==, "Device said NAK");

  /* The documented byte layout, pinned. */
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   expected, sizeof expected);
}

/* Decodes @data and expects BAD_MESSAGE with @fragment in the message. */
static void
expect_bad (const guint8 *data, gsize size, DevbgChannelDirection dir, const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgChannelMessage) msg = devbg_channel_decode (data, size, dir, &error);

  g_assert_null (msg);
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
  if (strstr (error->message, fragment) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, fragment);
}

static GByteArray *
encoded (const DevbgChannelMessage *msg)
{
  g_autoptr(GBytes) b = devbg_channel_encode (msg, NULL);

  g_assert_nonnull (b);
  return g_bytes_unref_to_array (g_steal_pointer (&b));
}

static void
set_payload_len (GByteArray *a)
{
  guint32 len = GUINT32_TO_LE (a->len - DEVBG_CHANNEL_HEADER_SIZE);

  memcpy (a->data + 4, &len, 4);
}

static void
test_bad_header (void)
{
  DevbgChannelMessage progress = { .type = DEVBG_CHANNEL_MSG_PROGRESS, .progress = 1 };
  g_autoptr(GByteArray) a = encoded (&progress);
  guint8 tmp[DEVBG_CHANNEL_HEADER_SIZE + 4];
  g_autofree guint8 *huge = g_malloc0 (DEVBG_CHANNEL_MAX_FRAME + 1);

  expect_bad (a->data, 0, DEVBG_CHANNEL_TO_SERVICE, "shorter than");
  expect_bad (a->data, 7, DEVBG_CHANNEL_TO_SERVICE, "shorter than");
  huge[0] = 1;
  huge[1] = 0x11;
  expect_bad (huge, DEVBG_CHANNEL_MAX_FRAME + 1, DEVBG_CHANNEL_TO_SERVICE, "more than the limit");

  memcpy (tmp, a->data, sizeof tmp);
  tmp[0] = 2;
  expect_bad (tmp, sizeof tmp, DEVBG_CHANNEL_TO_SERVICE, "unsupported version 2");

  memcpy (tmp, a->data, sizeof tmp);
  tmp[1] = 0x7f;
  expect_bad (tmp, sizeof tmp, DEVBG_CHANNEL_TO_SERVICE, "unknown message type 0x7f");

  memcpy (tmp, a->data, sizeof tmp);
  tmp[3] = 1;
  expect_bad (tmp, sizeof tmp, DEVBG_CHANNEL_TO_SERVICE, "reserved");

  /* Length in the header disagrees with the packet, both ways. */
  memcpy (tmp, a->data, sizeof tmp);
  tmp[4] = 5;
  expect_bad (tmp, sizeof tmp, DEVBG_CHANNEL_TO_SERVICE, "header says 5 payload bytes");
  tmp[4] = 3;
  expect_bad (tmp, sizeof tmp, DEVBG_CHANNEL_TO_SERVICE, "header says 3 payload bytes");
}

static void
test_bad_direction (void)
{
  DevbgChannelMessage progress = { .type = DEVBG_CHANNEL_MSG_PROGRESS, .progress = 1 };
  g_autoptr(GBytes) cancel = devbg_channel_encode_cancel (DEVBG_CANCEL_ABORT, NULL, NULL);
  g_autoptr(GByteArray) a = encoded (&progress);

  /* A task must not be able to send what only devbgd sends, and back. */
  expect_bad (g_bytes_get_data (cancel, NULL), g_bytes_get_size (cancel),
              DEVBG_CHANNEL_TO_SERVICE, "cancel message is not allowed");
  expect_bad (a->data, a->len, DEVBG_CHANNEL_TO_TASK, "progress message is not allowed");
}

static void
test_bad_lengths (void)
{
  DevbgChannelMessage progress = { .type = DEVBG_CHANNEL_MSG_PROGRESS, .progress = 1 };
  DevbgChannelMessage keep_alive = { .type = DEVBG_CHANNEL_MSG_KEEP_ALIVE };
  DevbgChannelMessage failed = { .type = DEVBG_CHANNEL_MSG_COMPLETE,
                                 .error_message = (char *) "oops" };
  g_autoptr(GByteArray) p = encoded (&progress);
  g_autoptr(GByteArray) k = encoded (&keep_alive);
  g_autoptr(GByteArray) f = encoded (&failed);
  const guint8 zero = 0;

  /* Truncated fixed field. */
  g_byte_array_set_size (p, p->len - 1);
  set_payload_len (p);
  expect_bad (p->data, p->len, DEVBG_CHANNEL_TO_SERVICE, "truncated at progress");

  /* Trailing bytes. */
  g_byte_array_append (k, &zero, 1);
  set_payload_len (k);
  expect_bad (k->data, k->len, DEVBG_CHANNEL_TO_SERVICE, "1 unexpected bytes after a keep-alive");

  /* A string length running past the end. */
  g_byte_array_set_size (f, f->len - 1);
  set_payload_len (f);
  expect_bad (f->data, f->len, DEVBG_CHANNEL_TO_SERVICE, "truncated at error message");

  /* A string length over its limit (checked before the bytes are). */
  {
    guint8 buf[] = { 1, 0x13, 0, 0, 5, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
    expect_bad (buf, sizeof buf, DEVBG_CHANNEL_TO_SERVICE,
                "error message is 4294967295 bytes long, more than 4096");
  }
}

static void
test_bad_strings (void)
{
  /* COMPLETE(false, "a?c") with ? replaced by each bad byte. */
  guint8 buf[] = { 1, 0x13, 0, 0, 8, 0, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c' };

  buf[14] = 0xff;
  expect_bad (buf, sizeof buf, DEVBG_CHANNEL_TO_SERVICE, "not valid UTF-8");
  buf[14] = 0;
  expect_bad (buf, sizeof buf, DEVBG_CHANNEL_TO_SERVICE, "NUL");
  buf[14] = 0xc3; /* a truncated two-byte sequence */
  expect_bad (buf, sizeof buf, DEVBG_CHANNEL_TO_SERVICE, "not valid UTF-8");
}

static void
test_bad_values (void)
{
  guint8 success2[] = { 1, 0x13, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 0 };
  guint8 ok_with_msg[] = { 1, 0x13, 0, 0, 6, 0, 0, 0, 1, 1, 0, 0, 0, 'x' };
  guint8 failed_no_msg[] = { 1, 0x13, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0 };
  guint8 reason[] = { 1, 0x02, 0, 0, 8, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0 };
  DevbgChannelMessage trigger = {
    .type = DEVBG_CHANNEL_MSG_TRIGGER, .instance_id = (char *) "1", .task_id = (char *) "t",
    .entry_point = (char *) "E", .device_id = (char *) "d",
  };
  g_autoptr(GByteArray) t = encoded (&trigger);

  expect_bad (success2, sizeof success2, DEVBG_CHANNEL_TO_SERVICE, "success flag is 2");
  expect_bad (ok_with_msg, sizeof ok_with_msg, DEVBG_CHANNEL_TO_SERVICE,
              "successful completion carries an error message");
  expect_bad (failed_no_msg, sizeof failed_no_msg, DEVBG_CHANNEL_TO_SERVICE,
              "error message is empty");
  expect_bad (reason, sizeof reason, DEVBG_CHANNEL_TO_TASK, "unknown cancellation reason 12");
  reason[8] = DEVBG_CANCEL_QUIET_HOURS_ENTERED;
  expect_bad (reason, sizeof reason, DEVBG_CHANNEL_TO_TASK, "unknown cancellation reason 8");

  /* The trigger type is the last 4 bytes. */
  t->data[t->len - 4] = 2;
  expect_bad (t->data, t->len, DEVBG_CHANNEL_TO_TASK, "unknown trigger type 2");

  /* An empty required string: instance ID length 0. */
  {
    guint8 buf[] = { 1, 0x01, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0 };
    expect_bad (buf, sizeof buf, DEVBG_CHANNEL_TO_TASK, "instance ID is empty");
  }
}

static void
test_encoder_refuses (void)
{
  g_autofree char *long_id = g_strnfill (DEVBG_CHANNEL_MAX_ID + 1, 'a');
  g_autofree char *long_args = g_strnfill (DEVBG_CHANNEL_MAX_ARGUMENTS + 1, 'a');
  DevbgChannelMessage trigger = {
    .type = DEVBG_CHANNEL_MSG_TRIGGER, .instance_id = long_id, .task_id = (char *) "t",
    .entry_point = (char *) "E", .device_id = (char *) "d",
  };
  DevbgChannelMessage unknown = { .type = 0x55 };
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;
  g_autoptr(GError) e4 = NULL;
  g_autoptr(GError) e5 = NULL;
  g_autoptr(GBytes) b1 = devbg_channel_encode (&trigger, &e1);
  g_autoptr(GBytes) b3 = devbg_channel_encode (&unknown, &e3);
  g_autoptr(GBytes) b4 = devbg_channel_encode_complete (TRUE, "x", &e4);
  g_autoptr(GBytes) b5 = devbg_channel_encode_cancel (DEVBG_CANCEL_ABORT, "\xff", &e5);
  g_autoptr(GBytes) b2 = NULL;

  trigger.instance_id = (char *) "1";
  trigger.arguments = long_args;
  b2 = devbg_channel_encode (&trigger, &e2);
  g_assert_null (b1);
  g_assert_error (e1, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
  g_assert_null (b2);
  g_assert_error (e2, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
  g_assert_null (b3);
  g_assert_error (e3, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
  g_assert_null (b4);
  g_assert_error (e4, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
  g_assert_null (b5);
  g_assert_error (e5, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
}

static void
test_largest_trigger_fits (void)
{
  g_autofree char *id = g_strnfill (DEVBG_CHANNEL_MAX_ID, 'i');
  g_autofree char *ep = g_strnfill (DEVBG_CHANNEL_MAX_ENTRY_POINT, 'e');
  g_autofree char *dev = g_strnfill (DEVBG_CHANNEL_MAX_DEVICE_ID, 'd');
  g_autofree char *args = g_strnfill (DEVBG_CHANNEL_MAX_ARGUMENTS, 'a');
  DevbgChannelMessage trigger = {
    .type = DEVBG_CHANNEL_MSG_TRIGGER, .instance_id = id, .task_id = id,
    .entry_point = ep, .device_id = dev, .arguments = args,
  };
  g_autoptr(DevbgChannelMessage) back = round_trip (&trigger, DEVBG_CHANNEL_TO_TASK);

  g_assert_cmpstr (back->arguments, ==, args);
}

/* The I/O wrappers on a real socketpair: packets, EOF, oversized packets,
 * passed fds. */
static void
test_socket (void)
{
  int sv[2];
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgChannelMessage) msg = NULL;
  DevbgChannelMessage progress = { .type = DEVBG_CHANNEL_MSG_PROGRESS, .progress = 99 };
  g_autofree guint8 *huge = g_malloc0 (DEVBG_CHANNEL_MAX_FRAME + 100);
  union { struct cmsghdr h; char buf[CMSG_SPACE (sizeof (int))]; } cmsg = { 0 };
  g_autoptr(GBytes) keep_alive = devbg_channel_encode_keep_alive ();
  struct iovec iov = { (void *) g_bytes_get_data (keep_alive, NULL), g_bytes_get_size (keep_alive) };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cmsg.buf,
                       .msg_controllen = sizeof cmsg.buf };
  int passed = 0;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), ==, 0);

  g_assert_true (devbg_channel_send (sv[0], &progress, &error));
  g_assert_true (devbg_channel_recv (sv[1], DEVBG_CHANNEL_TO_SERVICE, &msg, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (msg->progress, ==, 99);
  g_clear_pointer (&msg, devbg_channel_message_free);

  /* Too big: refused whole, not cut to a plausible packet. */
  huge[0] = 1;
  huge[1] = 0x12;
  g_assert_cmpint (send (sv[0], huge, DEVBG_CHANNEL_MAX_FRAME + 100, 0), ==, DEVBG_CHANNEL_MAX_FRAME + 100);
  g_assert_false (devbg_channel_recv (sv[1], DEVBG_CHANNEL_TO_SERVICE, &msg, &error));
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
  g_clear_error (&error);

  /* An fd passed along: refused (and closed by the kernel). */
  cmsg.h.cmsg_level = SOL_SOCKET;
  cmsg.h.cmsg_type = SCM_RIGHTS;
  cmsg.h.cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (&cmsg.h), &passed, sizeof passed);
  g_assert_cmpint (sendmsg (sv[0], &mh, 0), >, 0);
  g_assert_false (devbg_channel_recv (sv[1], DEVBG_CHANNEL_TO_SERVICE, &msg, &error));
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
  g_assert_nonnull (strstr (error->message, "ancillary"));
  g_clear_error (&error);

  /* Non-blocking and empty. */
  g_assert_true (g_unix_set_fd_nonblocking (sv[1], TRUE, NULL));
  g_assert_false (devbg_channel_recv (sv[1], DEVBG_CHANNEL_TO_SERVICE, &msg, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);

  /* End of stream. */
  close (sv[0]);
  g_assert_true (devbg_channel_recv (sv[1], DEVBG_CHANNEL_TO_SERVICE, &msg, &error));
  g_assert_no_error (error);
  g_assert_null (msg);
  close (sv[1]);
}

static void
test_round_trip_reopen (void)
{
  DevbgChannelMessage reopen = { .type = DEVBG_CHANNEL_MSG_REOPEN_DEVICE, .timeout_ms = 20000 };
  DevbgChannelMessage ok = { .type = DEVBG_CHANNEL_MSG_DEVICE_REOPENED, .success = TRUE };
  DevbgChannelMessage failed = { .type = DEVBG_CHANNEL_MSG_DEVICE_REOPENED,
                                 .error_message = (char *) "The device did not come back" };
  g_autoptr(DevbgChannelMessage) r = round_trip (&reopen, DEVBG_CHANNEL_TO_SERVICE);
  g_autoptr(DevbgChannelMessage) o = round_trip (&ok, DEVBG_CHANNEL_TO_TASK);
  g_autoptr(DevbgChannelMessage) f = round_trip (&failed, DEVBG_CHANNEL_TO_TASK);
  g_autoptr(GBytes) bytes = devbg_channel_encode_reopen_device (1000, NULL);
  const guint8 expected[] = { 1, 0x14, 0, 0, 4, 0, 0, 0, 0xe8, 0x03, 0, 0 };
  const guint8 expected_ok[] = { 1, 0x03, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0 };
  g_autoptr(GBytes) ok_bytes = devbg_channel_encode (&ok, NULL);

  g_assert_cmpuint (r->timeout_ms, ==, 20000);
  g_assert_true (o->success);
  g_assert_cmpstr (o->error_message, ==, "");
  /* The pure decoder never makes up an fd. */
  g_assert_cmpint (o->fd, ==, -1);
  g_assert_false (o->owns_fd);
  g_assert_false (f->success);
  g_assert_cmpstr (f->error_message, ==, "The device did not come back");
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   expected, sizeof expected);
  g_assert_cmpmem (g_bytes_get_data (ok_bytes, NULL), g_bytes_get_size (ok_bytes),
                   expected_ok, sizeof expected_ok);
}

static void
test_bad_reopen (void)
{
  guint8 zero_timeout[] = { 1, 0x14, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0 };
  guint8 huge_timeout[] = { 1, 0x14, 0, 0, 4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
  guint8 ok_with_msg[] = { 1, 0x03, 0, 0, 6, 0, 0, 0, 1, 1, 0, 0, 0, 'x' };
  guint8 failed_no_msg[] = { 1, 0x03, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0 };
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GBytes) b1 = devbg_channel_encode_reopen_device (0, &e1);

  expect_bad (zero_timeout, sizeof zero_timeout, DEVBG_CHANNEL_TO_SERVICE, "reopen timeout 0 ms");
  expect_bad (huge_timeout, sizeof huge_timeout, DEVBG_CHANNEL_TO_SERVICE, "is not within");
  expect_bad (ok_with_msg, sizeof ok_with_msg, DEVBG_CHANNEL_TO_TASK,
              "successful reopen carries an error message");
  expect_bad (failed_no_msg, sizeof failed_no_msg, DEVBG_CHANNEL_TO_TASK, "error message is empty");
  /* Each only in its direction. */
  expect_bad (zero_timeout, sizeof zero_timeout, DEVBG_CHANNEL_TO_TASK,
              "reopen-device message is not allowed");
  expect_bad (failed_no_msg, sizeof failed_no_msg, DEVBG_CHANNEL_TO_SERVICE,
              "device-reopened message is not allowed");
  g_assert_null (b1);
  g_assert_error (e1, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
}

/* Sends @packet with @nfds copies of @fd attached, bypassing the checks of
 * devbg_channel_send(), as a misbehaving peer would. */
static void
raw_send_with_fds (int sock, GBytes *packet, int fd, guint nfds)
{
  union { struct cmsghdr h; char buf[CMSG_SPACE (8 * sizeof (int))]; } cmsg = { 0 };
  struct iovec iov = { (void *) g_bytes_get_data (packet, NULL), g_bytes_get_size (packet) };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cmsg.buf,
                       .msg_controllen = CMSG_SPACE (nfds * sizeof (int)) };

  g_assert_cmpuint (nfds, <=, 8);
  cmsg.h.cmsg_level = SOL_SOCKET;
  cmsg.h.cmsg_type = SCM_RIGHTS;
  cmsg.h.cmsg_len = CMSG_LEN (nfds * sizeof (int));
  for (guint i = 0; i < nfds; i++)
    memcpy (CMSG_DATA (&cmsg.h) + i * sizeof (int), &fd, sizeof fd);
  g_assert_cmpint (sendmsg (sock, &mh, 0), >, 0);
}

static int
count_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  int n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
expect_recv_bad (int sock, DevbgChannelDirection dir, const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgChannelMessage) msg = NULL;

  g_assert_false (devbg_channel_recv (sock, dir, &msg, &error));
  g_assert_null (msg);
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
  if (strstr (error->message, fragment) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, fragment);
}

/* DEVICE_REOPENED passes the new device fd; the one exception to "no fds",
 * and only in its own shape. */
static void
test_socket_fd_passing (void)
{
  int sv[2], dev[2];
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgChannelMessage) msg = NULL;
  g_autoptr(GBytes) progress = devbg_channel_encode_progress (1);
  g_autoptr(GBytes) cancel = devbg_channel_encode_cancel (DEVBG_CANCEL_ABORT, NULL, NULL);
  DevbgChannelMessage ok = { .type = DEVBG_CHANNEL_MSG_DEVICE_REOPENED, .success = TRUE };
  g_autoptr(GBytes) ok_packet = devbg_channel_encode (&ok, NULL);
  DevbgChannelMessage failed = { .type = DEVBG_CHANNEL_MSG_DEVICE_REOPENED,
                                 .error_message = (char *) "gone" };
  g_autoptr(GBytes) failed_packet = devbg_channel_encode (&failed, NULL);
  char c = 0;
  int fds_before;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), ==, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dev), ==, 0);
  fds_before = count_open_fds ();

  /* The good case: the fd arrives, works, and belongs to the message. */
  g_assert_true (devbg_channel_send_device_reopened (sv[0], dev[0], NULL, &error));
  g_assert_no_error (error);
  g_assert_true (devbg_channel_recv (sv[1], DEVBG_CHANNEL_TO_TASK, &msg, &error));
  g_assert_no_error (error);
  g_assert_cmpint (msg->type, ==, DEVBG_CHANNEL_MSG_DEVICE_REOPENED);
  g_assert_true (msg->success);
  g_assert_true (msg->owns_fd);
  g_assert_cmpint (msg->fd, >=, 0);
  g_assert_cmpint (msg->fd, !=, dev[0]);
  g_assert_cmpint (write (msg->fd, "x", 1), ==, 1);
  g_assert_cmpint (read (dev[1], &c, 1), ==, 1);
  g_assert_cmpint (c, ==, 'x');
  g_assert_cmpint (count_open_fds (), ==, fds_before + 1);
  g_clear_pointer (&msg, devbg_channel_message_free); /* closes it */
  g_assert_cmpint (count_open_fds (), ==, fds_before);

  /* steal_fd() hands it over. */
  g_assert_true (devbg_channel_send_device_reopened (sv[0], dev[0], NULL, NULL));
  g_assert_true (devbg_channel_recv (sv[1], DEVBG_CHANNEL_TO_TASK, &msg, &error));
  {
    int stolen = devbg_channel_message_steal_fd (msg);

    g_assert_cmpint (stolen, >=, 0);
    g_assert_cmpint (devbg_channel_message_steal_fd (msg), ==, -1);
    g_clear_pointer (&msg, devbg_channel_message_free);
    g_assert_cmpint (count_open_fds (), ==, fds_before + 1);
    close (stolen);
  }

  /* A failure carries no fd. */
  g_assert_true (devbg_channel_send_device_reopened (sv[0], -1, "The dock did not come back",
                                                     &error));
  g_assert_true (devbg_channel_recv (sv[1], DEVBG_CHANNEL_TO_TASK, &msg, &error));
  g_assert_false (msg->success);
  g_assert_cmpint (msg->fd, ==, -1);
  g_assert_cmpstr (msg->error_message, ==, "The dock did not come back");
  g_clear_pointer (&msg, devbg_channel_message_free);

  /* The sender refuses an ok without an fd. */
  g_assert_false (devbg_channel_send (sv[0], &ok, &error));
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
  g_clear_error (&error);

  /* The receiver refuses every other shape, and closes what came. */
  g_assert_true (devbg_channel_send_bytes (sv[0], ok_packet, NULL));
  expect_recv_bad (sv[1], DEVBG_CHANNEL_TO_TASK, "carries 0 file descriptors");
  raw_send_with_fds (sv[0], ok_packet, dev[0], 2);
  expect_recv_bad (sv[1], DEVBG_CHANNEL_TO_TASK, "carries 2 file descriptors");
  raw_send_with_fds (sv[0], ok_packet, dev[0], 8);
  expect_recv_bad (sv[1], DEVBG_CHANNEL_TO_TASK, "ancillary");
  raw_send_with_fds (sv[0], failed_packet, dev[0], 1);
  expect_recv_bad (sv[1], DEVBG_CHANNEL_TO_TASK, "device-reopened message carries ancillary");
  raw_send_with_fds (sv[0], cancel, dev[0], 1);
  expect_recv_bad (sv[1], DEVBG_CHANNEL_TO_TASK, "cancel message carries ancillary");
  /* Towards devbgd, never, even on a packet that would be a fine message. */
  raw_send_with_fds (sv[1], progress, dev[0], 1);
  expect_recv_bad (sv[0], DEVBG_CHANNEL_TO_SERVICE, "ancillary");
  /* A device-reopened sent by a task is refused by type, fd or not. */
  raw_send_with_fds (sv[1], ok_packet, dev[0], 1);
  expect_recv_bad (sv[0], DEVBG_CHANNEL_TO_SERVICE, "ancillary");
  g_assert_cmpint (count_open_fds (), ==, fds_before);

  close (sv[0]);
  close (sv[1]);
  close (dev[0]);
  close (dev[1]);
}

/* A peer that closed its end: sending reports a broken pipe, and does not
 * kill the sender with SIGPIPE (whose default disposition this test keeps). */
static void
test_send_to_closed_peer (void)
{
  DevbgChannelMessage progress = { .type = DEVBG_CHANNEL_MSG_PROGRESS, .progress = 1 };
  g_autoptr(GError) error = NULL;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), ==, 0);
  close (sv[1]);
  g_assert_false (devbg_channel_send (sv[0], &progress, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  close (sv[0]);
}

/* What devbgd's reading of a fast task relies on (devbg-instance.c): a
 * peer that sends COMPLETE and closes with a message of ours unread makes
 * the first receive fail with a reset, *before* its COMPLETE, which the
 * next receive still returns; then end of stream. */
static void
test_reset_before_queued_messages (void)
{
  DevbgChannelMessage trigger = {
    .type = DEVBG_CHANNEL_MSG_TRIGGER, .instance_id = "i", .task_id = "t",
    .entry_point = "E", .device_id = "d", .arguments = "",
  };
  DevbgChannelMessage complete = { .type = DEVBG_CHANNEL_MSG_COMPLETE, .success = TRUE };
  g_autoptr(DevbgChannelMessage) msg = NULL;
  g_autoptr(DevbgChannelMessage) end = NULL;
  g_autoptr(GError) reset = NULL;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), ==, 0);
  g_assert_true (devbg_channel_send (sv[0], &trigger, NULL));
  g_assert_true (devbg_channel_send (sv[1], &complete, NULL));
  close (sv[1]); /* the TRIGGER unread */

  if (!devbg_channel_recv (sv[0], DEVBG_CHANNEL_TO_SERVICE, &msg, &reset))
    {
      g_assert_error (reset, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
      g_assert_true (devbg_channel_recv (sv[0], DEVBG_CHANNEL_TO_SERVICE, &msg, NULL));
    }
  g_assert_nonnull (msg);
  g_assert_cmpint (msg->type, ==, DEVBG_CHANNEL_MSG_COMPLETE);
  g_assert_true (devbg_channel_recv (sv[0], DEVBG_CHANNEL_TO_SERVICE, &end, NULL));
  g_assert_null (end);
  close (sv[0]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/channel/round-trip/trigger", test_round_trip_trigger);
  g_test_add_func ("/channel/round-trip/cancel", test_round_trip_cancel);
  g_test_add_func ("/channel/round-trip/task-messages", test_round_trip_task_messages);
  g_test_add_func ("/channel/round-trip/largest-trigger", test_largest_trigger_fits);
  g_test_add_func ("/channel/bad/header", test_bad_header);
  g_test_add_func ("/channel/bad/direction", test_bad_direction);
  g_test_add_func ("/channel/bad/lengths", test_bad_lengths);
  g_test_add_func ("/channel/bad/strings", test_bad_strings);
  g_test_add_func ("/channel/bad/values", test_bad_values);
  g_test_add_func ("/channel/encoder-refuses", test_encoder_refuses);
  g_test_add_func ("/channel/socket", test_socket);
  g_test_add_func ("/channel/round-trip/reopen", test_round_trip_reopen);
  g_test_add_func ("/channel/bad/reopen", test_bad_reopen);
  g_test_add_func ("/channel/socket/fd-passing", test_socket_fd_passing);
  g_test_add_func ("/channel/socket/closed-peer", test_send_to_closed_peer);
  g_test_add_func ("/channel/socket/reset-before-queued", test_reset_before_queued_messages);
  return g_test_run ();
}
