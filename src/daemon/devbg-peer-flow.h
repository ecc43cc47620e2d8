/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * How many of devbgd's progress signals a connection may have unread.
 *
 * dbus-daemon charges every message devbgd sent and a recipient has not
 * read yet to devbgd's own quota (max_incoming_bytes): a connection that
 * never reads, sent Progress and TaskChanged as fast as a task reports,
 * fills it, and dbus-daemon then stops reading devbgd at all, for every
 * user. So each connection gets a window of such signals; the signal that
 * uses its last credit is followed by a Peer.Ping, and the connection gets
 * none until it answers (GDBus answers in its own thread, so a client that
 * reads answers at once, whatever its main loop does). One that does not
 * read has at most the window and one Ping unread.
 *
 * Only signals whose loss is harmless go through it: progress, of which
 * the latest value is all that counts. What a paused connection missed is
 * its owner's to send again when it answers (the resumed callback).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _DevbgPeerFlow DevbgPeerFlow;

/* @peer answered its Ping: it has its whole window again, and missed
 * something since it was paused. */
typedef void (*DevbgPeerFlowResumed) (const char *peer,
                                      gpointer    user_data);

DevbgPeerFlow *devbg_peer_flow_new    (GDBusConnection      *connection,
                                       guint                 window,
                                       guint                 ping_timeout_ms,
                                       DevbgPeerFlowResumed  resumed,
                                       gpointer              user_data);
void           devbg_peer_flow_free   (DevbgPeerFlow        *flow);

/* Whether one more such signal may go to @peer now (taking a credit):
 * FALSE while it has not answered its Ping; the caller then skips it and
 * hears of @peer again through the resumed callback. */
gboolean       devbg_peer_flow_take   (DevbgPeerFlow        *flow,
                                       const char           *peer);

/* Whether @peer is paused and had a signal skipped since. */
gboolean       devbg_peer_flow_missed (DevbgPeerFlow        *flow,
                                       const char           *peer);

/* @peer left the bus: forgotten, with its Ping's answer. */
void           devbg_peer_flow_forget (DevbgPeerFlow        *flow,
                                       const char           *peer);

/* The connections known (for tests of the bound). */
guint          devbg_peer_flow_size   (DevbgPeerFlow        *flow);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgPeerFlow, devbg_peer_flow_free)

G_END_DECLS
