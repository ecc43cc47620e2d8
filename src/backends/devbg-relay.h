/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A relay between a device's connection that devbgd made (an RFCOMM
 * socket from BlueZ, a TCP socket to a network device) and the task: the
 * task gets one end of a socketpair, never the connection itself. So the
 * task cannot turn the connection elsewhere (a TCP socket can be
 * disconnected with connect(AF_UNSPEC) and connected to any host), and
 * devbgd counts the bytes for the I/O liveness policy. The first side to
 * end or fail ends both.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Takes @device_fd (blocking mode is set here); adds the bytes moved to
 * *@counter (an atomic rc box, acquired for the relay's life). Returns
 * the task's end, or -1 with @error. */
int devbg_relay_start (int device_fd, guint64 *counter, GError **error);

G_END_DECLS
