/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The signals devbgd sends a connection, unasked (Progress, Completed,
 * TaskChanged, TaskEnded), within what it has read.
 *
 * dbus-daemon charges every message devbgd sent and a recipient has not
 * read yet to devbgd's own quota (max_incoming_bytes): a connection that
 * never reads fills it, and dbus-daemon then stops reading devbgd at all,
 * for every user. So each connection gets a window of signals; the one
 * that uses its last credit is followed by a Peer.Ping, and until it
 * answers (GDBus answers in its own thread, so a client that reads
 * answers at once, whatever its main loop does) its signals wait in a
 * queue here, in order, the latest progress of an instance replacing the
 * one before. The answer sends them. A connection whose queue outgrows its
 * bound does not read: it is dropped (sent nothing more), and its owner
 * told. One that does not read thus holds at most the window and one Ping
 * unread, and the bounded queue here.
 *
 * Pings are calls: dbus-daemon keeps each one unanswered as a pending
 * reply of devbgd, which may have 128, without a timeout by default. So a
 * connection has at most one out, without a timeout of devbgd's either,
 * and there are at most DEVBG_PEER_FLOW_MAX_PINGS out at once, and
 * DEVBG_PEER_FLOW_MAX_PINGS_PER_UID for the connections of one user.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define DEVBG_PEER_FLOW_MAX_PINGS 64
#define DEVBG_PEER_FLOW_MAX_PINGS_PER_UID 8

typedef struct _DevbgPeerFlow DevbgPeerFlow;

/* @peer's queue outgrew its bound: it is sent nothing more until reset. */
typedef void (*DevbgPeerFlowDropped) (const char *peer,
                                      gpointer    user_data);

DevbgPeerFlow *devbg_peer_flow_new    (GDBusConnection      *connection,
                                       const char           *object_path,
                                       const char           *interface,
                                       guint                 window,
                                       guint                 max_queued,
                                       DevbgPeerFlowDropped  dropped,
                                       gpointer              user_data);
void           devbg_peer_flow_free   (DevbgPeerFlow        *flow);

/* Sends @signal with @params (floating or not) to @peer, a connection of
 * @uid: now while it has credit, else when it has answered its Ping.
 * @coalesce_key (may be NULL): a signal still queued with the same key is
 * replaced (this one goes at the end), as only the latest counts. */
void           devbg_peer_flow_send   (DevbgPeerFlow        *flow,
                                       const char           *peer,
                                       guint32               uid,
                                       const char           *signal,
                                       GVariant             *params,
                                       const char           *coalesce_key);

/* @peer asks again (WatchEvents, WatchTasks): if it was dropped, it is
 * sent signals again; a Ping it owes is still awaited. */
void           devbg_peer_flow_reset  (DevbgPeerFlow        *flow,
                                       const char           *peer);

/* @peer left the bus: forgotten, with what was queued for it. */
void           devbg_peer_flow_forget (DevbgPeerFlow        *flow,
                                       const char           *peer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgPeerFlow, devbg_peer_flow_free)

G_END_DECLS
