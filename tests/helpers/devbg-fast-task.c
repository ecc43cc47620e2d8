/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The fastest possible task, for the lost-completion stress test: it sends
 * COMPLETE (success) on its control channel (fd 4) and exits at once,
 * without reading TRIGGER and without libdevbg, so devbgd sees the
 * completion, the channel's end and the exit as close together as a task
 * can make them.
 */
#include <sys/socket.h>
#include <unistd.h>

int
main (void)
{
  /* version 1, COMPLETE (0x13), reserved 0, length 5, success 1, empty
   * string: docs/task-channel.md section 3. */
  static const unsigned char complete[] = { 1, 0x13, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0 };

  if (send (4, complete, sizeof complete, MSG_NOSIGNAL) != (ssize_t) sizeof complete)
    _exit (1);
  _exit (0);
}
