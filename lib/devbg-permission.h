/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Stored use consent ("permissions"): listing it, a page at a time as
 * devbgd pages it, and revoking it.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-client.h"

G_BEGIN_DECLS

/**
 * SECTION:devbg-permission
 * @title: Stored consent
 * @short_description: the use consent devbgd remembers, and revoking it
 *
 * When the person allows an app's background sync (a use trigger) in a
 * consent prompt, devbgd stores the answer for that user, that app and
 * that device model, until it is revoked; a servicing (update) consent is
 * never stored. devbg_client_list_permissions_async() lists what the
 * caller may see, one page at a time (root sees every user's, another
 * program its own user's, an app its own user's of itself), as
 * #DevbgPermission objects; devbg_client_revoke_permission_async() takes
 * one back (the next request asks again, and the app's running sync tasks
 * on devices of that model are canceled).
 */

/**
 * DevbgPermission:
 *
 * One stored use consent: the user who gave it, the app and the device
 * model it covers, and when it was given. Immutable. It holds the whole
 * page it came in, as a #DevbgTaskInfo of the history does: keep copies
 * of its strings, not the object, to keep a few of many pages for long.
 *
 * Since: 0.2
 */
/**
 * DEVBG_TYPE_PERMISSION:
 *
 * The #GType of #DevbgPermission.
 *
 * Since: 0.2
 */
#define DEVBG_TYPE_PERMISSION (devbg_permission_get_type ())
G_DECLARE_FINAL_TYPE (DevbgPermission, devbg_permission, DEVBG, PERMISSION, GObject)

/**
 * DEVBG_PERMISSION_EVERY_MODEL:
 *
 * The model ID that devbg_client_revoke_permission_async() takes for
 * "every device model of the app".
 *
 * Since: 0.2
 */
#define DEVBG_PERMISSION_EVERY_MODEL "*"

guint32     devbg_permission_get_uid (DevbgPermission *permission);
const char *devbg_permission_get_app_id (DevbgPermission *permission);
const char *devbg_permission_get_model_id (DevbgPermission *permission);
gint64      devbg_permission_get_created_us (DevbgPermission *permission);

void        devbg_client_list_permissions_async (DevbgClient         *client,
                                                 const char          *continuation,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
GPtrArray  *devbg_client_list_permissions_finish (DevbgClient  *client,
                                                  GAsyncResult *result,
                                                  char        **next_continuation,
                                                  GError      **error);
GPtrArray  *devbg_client_list_permissions_sync (DevbgClient  *client,
                                                const char   *continuation,
                                                char        **next_continuation,
                                                GCancellable *cancellable,
                                                GError      **error);

void        devbg_client_revoke_permission_async (DevbgClient         *client,
                                                  guint32              uid,
                                                  const char          *app_id,
                                                  const char          *model_id,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
gboolean    devbg_client_revoke_permission_finish (DevbgClient  *client,
                                                   GAsyncResult *result,
                                                   guint        *n_removed,
                                                   GError      **error);
gboolean    devbg_client_revoke_permission_sync (DevbgClient  *client,
                                                 guint32       uid,
                                                 const char   *app_id,
                                                 const char   *model_id,
                                                 guint        *n_removed,
                                                 GCancellable *cancellable,
                                                 GError      **error);

G_END_DECLS
