/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Internal to libdevbg: the list channel of a client (OpenListChannel in
 * the D-Bus API), a peer-to-peer connection to devbgd on which its
 * History and ListPermissions pages come without the bus daemon's
 * copies. Opened at the first such call; until it is open, or where
 * devbgd has none or refuses one, and again once it closed, the calls go
 * on the bus, which answers them the same.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-client.h"

G_BEGIN_DECLS

typedef struct _DevbgListChannel DevbgListChannel;

/* @client's (NULL after its dispose). */
DevbgListChannel *devbg_client_get_list_channel  (DevbgClient         *client);

/* For the client on @bus; a peer-to-peer @bus (devbgd itself) has none. */
DevbgListChannel *devbg_list_channel_new         (GDBusConnection     *bus);
/* The client's end: closes the channel. */
void              devbg_list_channel_close       (DevbgListChannel    *channel);
DevbgListChannel *devbg_list_channel_ref         (DevbgListChannel    *channel);
void              devbg_list_channel_unref       (DevbgListChannel    *channel);

/* Calls the Manager's @method (History or ListPermissions) on the channel,
 * opening it first if need be, else on the bus. Errors as the bus gives
 * them (the remote error name stripped). */
GVariant         *devbg_list_channel_call_sync   (DevbgListChannel    *channel,
                                                  const char          *method,
                                                  GVariant            *params,
                                                  const GVariantType  *reply_type,
                                                  GCancellable        *cancellable,
                                                  GError             **error);

/* The same without blocking: while the channel opens, the call goes on the
 * bus. Finish with devbg_list_channel_call_finish(). */
void              devbg_list_channel_call        (DevbgListChannel    *channel,
                                                  const char          *method,
                                                  GVariant            *params,
                                                  const GVariantType  *reply_type,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
GVariant         *devbg_list_channel_call_finish (GAsyncResult        *result,
                                                  GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgListChannel, devbg_list_channel_unref)

G_END_DECLS
