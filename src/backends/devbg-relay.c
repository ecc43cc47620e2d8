/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See devbg-relay.h. Two threads per connection, blocking reads and
 * writes of up to 64 KiB: simpler than a poll loop with buffers per
 * direction, and neither direction can stall the other or the main loop.
 */
#include "devbg-relay.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devbg-error.h"


typedef struct {
  gint     refs;
  int      device_fd;  /* the connection devbgd made */
  int      task_fd;    /* devbgd's end of the task's socketpair */
  guint64 *counter;    /* an atomic rc box shared with the entry */
} Relay;

typedef struct {
  Relay *relay;
  int    from, to;
} RelayDirection;

static void
relay_unref (Relay *relay)
{
  if (!g_atomic_int_dec_and_test (&relay->refs))
    return;
  close (relay->device_fd);
  close (relay->task_fd);
  g_atomic_rc_box_release (relay->counter);
  g_free (relay);
}

#define SPLICE_CHUNK (1 << 20)

/* Moves bytes through a pipe with splice(), without copying them through
 * user space: most of the relay's cost on a fast link. FALSE, having
 * moved nothing, when a socket cannot splice (then read and write do). */
static gboolean
relay_splice (RelayDirection *dir)
{
  int p[2];
  gboolean moved = FALSE;

  if (pipe2 (p, O_CLOEXEC) < 0)
    return FALSE;
  fcntl (p[1], F_SETPIPE_SZ, SPLICE_CHUNK);
  for (;;)
    {
      ssize_t n = splice (dir->from, NULL, p[1], NULL, SPLICE_CHUNK, SPLICE_F_MOVE);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && !moved && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
        break;
      moved = TRUE;
      if (n <= 0)
        break;
      for (ssize_t left = n; left > 0;)
        {
          ssize_t w = splice (p[0], NULL, dir->to, NULL, (size_t) left, SPLICE_F_MOVE);
          if (w < 0 && errno == EINTR)
            continue;
          if (w <= 0)
            goto out;
          left -= w;
        }
      __atomic_add_fetch (dir->relay->counter, (guint64) n, __ATOMIC_RELAXED);
    }
out:
  close (p[0]);
  close (p[1]);
  return moved;
}

/* One direction, blocking. The first side to end or fail ends both: an
 * RFCOMM link has no half-close, and the task closing its end must drop
 * the connection to the device (a device closing it ends the task's). */
static gpointer
relay_thread (gpointer data)
{
  RelayDirection *dir = data;
  char buf[65536];

  if (relay_splice (dir))
    goto out;
  for (;;)
    {
      ssize_t n = read (dir->from, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      for (ssize_t off = 0; off < n;)
        {
          ssize_t w = write (dir->to, buf + off, n - off);
          if (w < 0 && errno == EINTR)
            continue;
          if (w <= 0)
            goto out;
          off += w;
        }
      __atomic_add_fetch (dir->relay->counter, (guint64) n, __ATOMIC_RELAXED);
    }
out:
  shutdown (dir->relay->device_fd, SHUT_RDWR);
  shutdown (dir->relay->task_fd, SHUT_RDWR);
  relay_unref (dir->relay);
  g_free (dir);
  return NULL;
}

int
devbg_relay_start (int device_fd, guint64 *counter, GError **error)
{
  int pair[2];
  Relay *relay;

  g_unix_set_fd_nonblocking (device_fd, FALSE, NULL);
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    {
      int e = errno;
      close (device_fd);
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "cannot make the relay: %s",
                   g_strerror (e));
      return -1;
    }
  relay = g_new0 (Relay, 1);
  relay->refs = 1;
  relay->device_fd = device_fd;
  relay->task_fd = pair[0];
  relay->counter = g_atomic_rc_box_acquire (counter);
  for (int i = 0; i < 2; i++)
    {
      RelayDirection *dir = g_new0 (RelayDirection, 1);
      g_atomic_int_inc (&relay->refs);
      dir->relay = relay;
      dir->from = i == 0 ? device_fd : pair[0];
      dir->to = i == 0 ? pair[0] : device_fd;
      g_thread_unref (g_thread_new ("relay", relay_thread, dir));
    }
  relay_unref (relay);
  return pair[1];
}
