/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The control channel between devbgd and one task process: a
 * SOCK_SEQPACKET socketpair, one message per packet. The wire format is
 * documented in docs/task-channel.md.
 *
 * The encoder and decoder are pure (no I/O) so that they can be unit tested
 * and fuzzed; devbg_channel_send()/devbg_channel_recv() are the thin I/O
 * wrappers. The decoder trusts nothing: devbgd decodes what a task (app
 * code) sends, and a bad message must end that task, never hurt devbgd.
 *
 * Internal to devbg (shared by devbgd and libdevbg's task side); not an
 * installed header. Task authors use devbg-task.h.
 */
#pragma once

#include <glib.h>

#include "devbg-enums.h"
#include "devbg-names.h"

G_BEGIN_DECLS

#define DEVBG_CHANNEL_VERSION        1
#define DEVBG_CHANNEL_HEADER_SIZE    8
/* Whole packet, header included. Big enough for the largest legal trigger
 * details (all strings at their limits), small enough to sit on the stack. */
#define DEVBG_CHANNEL_MAX_FRAME      32768

/* Longest string, in bytes, of each field. */
#define DEVBG_CHANNEL_MAX_ID            64    /* instance ID, task ID */
#define DEVBG_CHANNEL_MAX_ENTRY_POINT   256
#define DEVBG_CHANNEL_MAX_DEVICE_ID     DEVBG_MAX_DEVICE_ID
#define DEVBG_CHANNEL_MAX_ARGUMENTS     DEVBG_MAX_ARGUMENTS
#define DEVBG_CHANNEL_MAX_DETAIL        1024  /* cancel detail */
#define DEVBG_CHANNEL_MAX_ERROR         4096  /* completion error message */

/* Message types; the high nibble says the direction (0x0_ service to task,
 * 0x1_ task to service), so a message in the wrong direction is rejected. */
typedef enum {
  DEVBG_CHANNEL_MSG_TRIGGER         = 0x01, /* service -> task */
  DEVBG_CHANNEL_MSG_CANCEL          = 0x02, /* service -> task */
  DEVBG_CHANNEL_MSG_DEVICE_REOPENED = 0x03, /* service -> task, carries the fd when ok */
  DEVBG_CHANNEL_MSG_PROGRESS        = 0x11, /* task -> service */
  DEVBG_CHANNEL_MSG_KEEP_ALIVE      = 0x12, /* task -> service */
  DEVBG_CHANNEL_MSG_COMPLETE        = 0x13, /* task -> service */
  DEVBG_CHANNEL_MSG_REOPEN_DEVICE   = 0x14, /* task -> service */
} DevbgChannelMessageType;

/* Longest wait a task may ask for in REOPEN_DEVICE (ms): a servicing task
 * runs at most 30 minutes anyway. */
#define DEVBG_CHANNEL_MAX_REOPEN_TIMEOUT_MS (30u * 60u * 1000u)

/* PROGRESS is a percentage, at most this. The decoder takes any u32: a
 * report above it is no broken packet but bad input, which devbgd ignores
 * (warning once an instance) rather than end the task for; the task side
 * refuses to send one. */
#define DEVBG_CHANNEL_MAX_PROGRESS 100u

typedef enum {
  DEVBG_CHANNEL_TO_TASK,    /* what a task decodes */
  DEVBG_CHANNEL_TO_SERVICE, /* what devbgd decodes */
} DevbgChannelDirection;

/* One decoded message. A flat struct rather than a union: only the fields
 * of @type are meaningful, the others are zero/NULL. Strings are owned. */
typedef struct {
  DevbgChannelMessageType type;

  /* TRIGGER */
  char            *instance_id;
  char            *task_id;
  char            *entry_point;
  char            *device_id;
  char            *arguments;        /* may be "" */
  guint64          expected_duration_ms; /* 0: unknown */
  DevbgTriggerType trigger_type;

  /* CANCEL */
  DevbgCancelReason reason;
  char             *detail;          /* may be "" */

  /* PROGRESS */
  guint32 progress;

  /* COMPLETE, and DEVICE_REOPENED (success = ok) */
  gboolean success;
  char    *error_message;            /* "" when success, non-empty otherwise */

  /* REOPEN_DEVICE */
  guint32 timeout_ms;                /* 1..DEVBG_CHANNEL_MAX_REOPEN_TIMEOUT_MS */

  /* DEVICE_REOPENED with success: the new device fd. On a received
   * message it is owned by the message (owns_fd TRUE; clear() closes it
   * unless the caller took it with devbg_channel_message_steal_fd()).
   * Ignored when sending (see devbg_channel_send_device_reopened()). A
   * separate owns_fd flag, because a zero-initialised message must never
   * close fd 0. */
  int      fd;
  gboolean owns_fd;
} DevbgChannelMessage;

void devbg_channel_message_clear (DevbgChannelMessage *msg);
void devbg_channel_message_free (DevbgChannelMessage *msg);
/* Takes the received fd out of @msg (-1 if it has none). */
int  devbg_channel_message_steal_fd (DevbgChannelMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgChannelMessage, devbg_channel_message_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DevbgChannelMessage, devbg_channel_message_clear)

const char *devbg_channel_message_type_to_string (DevbgChannelMessageType type);
DevbgChannelDirection devbg_channel_message_direction (DevbgChannelMessageType type);

/* Pure. Checks @msg against the same rules as the decoder (so nothing is
 * sent that the peer would reject) and returns the packet, or NULL with
 * DEVBG_ERROR_BAD_MESSAGE. NULL strings are encoded as "" where "" is
 * allowed. */
GBytes *devbg_channel_encode (const DevbgChannelMessage *msg,
                              GError                   **error);

/* Pure. Decodes one whole packet meant for @direction into a new message,
 * or returns NULL with DEVBG_ERROR_BAD_MESSAGE saying what is wrong. */
DevbgChannelMessage *devbg_channel_decode (const guint8          *data,
                                           gsize                  size,
                                           DevbgChannelDirection  direction,
                                           GError               **error);

/* Convenience encoders for the simple messages. */
GBytes *devbg_channel_encode_progress (guint32 progress);
GBytes *devbg_channel_encode_keep_alive (void);
GBytes *devbg_channel_encode_cancel (DevbgCancelReason reason,
                                     const char       *detail,
                                     GError          **error);
GBytes *devbg_channel_encode_complete (gboolean    success,
                                      const char *error_message,
                                      GError    **error);
GBytes *devbg_channel_encode_reopen_device (guint32   timeout_ms,
                                           GError  **error);

/* I/O: sends one message as one packet on a SOCK_SEQPACKET socket
 * (MSG_NOSIGNAL: a dead peer gives EPIPE, not SIGPIPE). Retries EINTR; on a
 * non-blocking socket a full buffer fails with G_IO_ERROR_WOULD_BLOCK.
 * Neither passes an fd: a successful DEVICE_REOPENED is refused here and
 * sent with devbg_channel_send_device_reopened(). */
gboolean devbg_channel_send (int                        fd,
                             const DevbgChannelMessage *msg,
                             GError                   **error);
gboolean devbg_channel_send_bytes (int      fd,
                                   GBytes  *packet,
                                   GError **error);

/* For devbgd: answers a REOPEN_DEVICE. @device_fd >= 0: ok, the fd is
 * passed with SCM_RIGHTS in the same packet (and stays the caller's, to
 * close); -1: failed with @error_message (required, 1..4096 bytes). */
gboolean devbg_channel_send_device_reopened (int          fd,
                                             int          device_fd,
                                             const char  *error_message,
                                             GError     **error);

/* I/O: receives and decodes one packet. Returns TRUE with *out_msg set, or
 * TRUE with *out_msg NULL at end of stream (the peer closed its end, or
 * sent an empty packet, which SOCK_SEQPACKET cannot tell apart), or FALSE:
 * G_IO_ERROR_WOULD_BLOCK on a non-blocking socket with nothing to read,
 * another G_IO_ERROR for a socket error, or DEVBG_ERROR_BAD_MESSAGE for a
 * bad packet (including one too big, or one carrying ancillary data, which
 * is closed and discarded). The one exception: a successful
 * DEVICE_REOPENED received with DEVBG_CHANNEL_TO_TASK must carry exactly
 * one fd, returned in (*out_msg)->fd (owned by the message). */
gboolean devbg_channel_recv (int                    fd,
                             DevbgChannelDirection  direction,
                             DevbgChannelMessage  **out_msg,
                             GError               **error);

G_END_DECLS
