/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * List channels: a peer-to-peer D-Bus connection that devbgd hands a
 * caller (OpenListChannel), one end of a socket pair, on which it serves
 * the long lists (History, ListPermissions) for that caller only. A page
 * of 4,096 History entries is 400 KiB; dbus-daemon relays a message
 * 2 KiB per loop iteration, which was half of a long list's time.
 *
 * A channel carries the identity of the bus connection that opened it
 * (its user and app, fixed then), and each call on it is checked as a
 * bus call is. It closes when that connection leaves the bus, when the
 * caller closes it, and when a reply is not read in time. What devbgd
 * holds for it is bounded: a channel serves one call at a time (a few
 * more wait, past that they are refused) and the next only once the last
 * reply was written to the socket, so at most one reply a channel waits
 * in devbgd; a user opens at most DEVBG_MAX_LIST_CHANNELS.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-identity.h"

G_BEGIN_DECLS

typedef struct _DevbgListChannels DevbgListChannels;

/* Serves @invocation, a call of the Manager interface on a channel opened
 * by @opener: @key names the channel where a bus call has its sender
 * (read-ahead pages are kept per key). Answers it before returning. */
typedef void (*DevbgListChannelServe) (gpointer                user_data,
                                       const DevbgIdentity    *opener,
                                       const char             *key,
                                       GDBusMethodInvocation  *invocation);

/* Told when channel @key closed: what was kept for it may go. */
typedef void (*DevbgListChannelClosed) (gpointer    user_data,
                                        const char *key);

/* @manager: the Manager interface, as exported on the bus; only the
 * methods in @methods (NULL-terminated) are served on a channel. */
DevbgListChannels *devbg_list_channels_new             (GDBusInterfaceInfo    *manager,
                                                        const char *const     *methods,
                                                        DevbgListChannelServe  serve,
                                                        DevbgListChannelClosed closed,
                                                        gpointer               user_data);
void               devbg_list_channels_free            (DevbgListChannels     *channels);

/* A new channel for @opener, whose bus connection is @sender: the caller's
 * end of the socket pair (to hand over, then close), or -1 with
 * DEVBG_ERROR_LIMIT_EXCEEDED or DEVBG_ERROR_FAILED. */
int                devbg_list_channels_open            (DevbgListChannels     *channels,
                                                        const char            *sender,
                                                        const DevbgIdentity   *opener,
                                                        GError               **error);

/* Closes the channels that @sender opened (it left the bus). */
void               devbg_list_channels_forget_sender   (DevbgListChannels     *channels,
                                                        const char            *sender);

G_END_DECLS
