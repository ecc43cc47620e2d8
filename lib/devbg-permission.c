/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-client-private.h"
#include "devbg-permission.h"

#include <string.h>

#include "devbg-error.h"
#include "devbg-list-channel.h"
#include "devbg-names.h"
#include "devbg-records.h"

struct _DevbgPermission {
  GObject   parent;
  guint32   uid;
  /* Both point into @page, the ListPermissions page the consent came in,
   * which every consent of the page holds: a page makes thousands. */
  GVariant *page;
  const char *app_id;
  const char *model_id;
  gint64    created_us;
};

G_DEFINE_FINAL_TYPE (DevbgPermission, devbg_permission, G_TYPE_OBJECT)

enum { PROP_0, PROP_UID, PROP_APP_ID, PROP_MODEL_ID, PROP_CREATED_US, N_PROPS };

static void
devbg_permission_finalize (GObject *object)
{
  DevbgPermission *permission = DEVBG_PERMISSION (object);

  g_clear_pointer (&permission->page, g_variant_unref);
  G_OBJECT_CLASS (devbg_permission_parent_class)->finalize (object);
}

static void
devbg_permission_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  DevbgPermission *permission = DEVBG_PERMISSION (object);

  switch (id)
    {
    case PROP_UID:
      g_value_set_uint (value, permission->uid);
      break;
    case PROP_APP_ID:
      g_value_set_string (value, permission->app_id);
      break;
    case PROP_MODEL_ID:
      g_value_set_string (value, permission->model_id);
      break;
    case PROP_CREATED_US:
      g_value_set_int64 (value, permission->created_us);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
devbg_permission_class_init (DevbgPermissionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = devbg_permission_finalize;
  object_class->get_property = devbg_permission_get_property;

  /**
   * DevbgPermission:uid:
   *
   * The user who gave the consent.
   *
   * Since: 0.2
   */
  g_object_class_install_property (object_class, PROP_UID,
    g_param_spec_uint ("uid", NULL, "the user who gave it", 0, G_MAXUINT32, 0, flags));
  /**
   * DevbgPermission:app-id:
   *
   * The app it lets run in the background.
   *
   * Since: 0.2
   */
  g_object_class_install_property (object_class, PROP_APP_ID,
    g_param_spec_string ("app-id", NULL, "the app it covers", NULL, flags));
  /**
   * DevbgPermission:model-id:
   *
   * The device model it covers: a device's model ID, or for a device
   * without one the product it names itself as, its hardware ID without
   * a revision (`USB\\VID_1209&PID_B0A1`). ("" is consent given with devbg
   * 0.1 for any device without a model ID; it covers none now.)
   *
   * Since: 0.2
   */
  g_object_class_install_property (object_class, PROP_MODEL_ID,
    g_param_spec_string ("model-id", NULL, "the device model it covers", NULL, flags));
  /**
   * DevbgPermission:created-us:
   *
   * When it was given, in microseconds since the Unix epoch.
   *
   * Since: 0.2
   */
  g_object_class_install_property (object_class, PROP_CREATED_US,
    g_param_spec_int64 ("created-us", NULL, "when it was given", G_MININT64, G_MAXINT64, 0,
                        flags));
}

static void
devbg_permission_init (DevbgPermission *permission)
{
}

/* @entry's strings are in @page (devbg_records_parse()). */
static DevbgPermission *
permission_new_from_entry (const DevbgPermissionEntry *entry, GVariant *page)
{
  /* Without varargs, as task_info_alloc(): a page makes thousands. */
  DevbgPermission *permission =
    (DevbgPermission *) g_object_new_with_properties (DEVBG_TYPE_PERMISSION, 0, NULL, NULL);

  permission->uid = entry->uid;
  permission->page = g_variant_ref (page);
  permission->app_id = entry->app_id;
  permission->model_id = entry->model_id;
  permission->created_us = entry->created_us;
  return permission;
}

/**
 * devbg_permission_get_uid:
 * @permission: a #DevbgPermission
 *
 * Returns: the user who gave the consent
 *
 * Since: 0.2
 */
guint32
devbg_permission_get_uid (DevbgPermission *permission)
{
  g_return_val_if_fail (DEVBG_IS_PERMISSION (permission), 0);
  return permission->uid;
}

/**
 * devbg_permission_get_app_id:
 * @permission: a #DevbgPermission
 *
 * Returns: (transfer none): the app the consent lets run in the background
 *
 * Since: 0.2
 */
const char *
devbg_permission_get_app_id (DevbgPermission *permission)
{
  g_return_val_if_fail (DEVBG_IS_PERMISSION (permission), NULL);
  return permission->app_id;
}

/**
 * devbg_permission_get_model_id:
 * @permission: a #DevbgPermission
 *
 * Returns: (transfer none): the device model the consent covers: a
 *   model ID, or a hardware ID for a device without one (see
 *   #DevbgPermission:model-id)
 *
 * Since: 0.2
 */
const char *
devbg_permission_get_model_id (DevbgPermission *permission)
{
  g_return_val_if_fail (DEVBG_IS_PERMISSION (permission), NULL);
  return permission->model_id;
}

/**
 * devbg_permission_get_created_us:
 * @permission: a #DevbgPermission
 *
 * Returns: when the consent was given, in microseconds since the Unix epoch
 *
 * Since: 0.2
 */
gint64
devbg_permission_get_created_us (DevbgPermission *permission)
{
  g_return_val_if_fail (DEVBG_IS_PERMISSION (permission), 0);
  return permission->created_us;
}

/* ---- the calls */

static gboolean
check_revoke (const char *app_id, const char *model_id, GError **error)
{
  return devbg_check_string_arg ("app_id", app_id, FALSE, DEVBG_MAX_NAME, error) &&
         (model_id == NULL ||
          devbg_check_string_arg ("model_id", model_id, TRUE, DEVBG_MAX_DEVICE_ID, error));
}

static GVariant *
revoke_params (guint32 uid, const char *app_id, const char *model_id)
{
  return g_variant_new ("(uss)", uid, app_id,
                        model_id != NULL ? model_id : DEVBG_PERMISSION_EVERY_MODEL);
}

/* A continuation is devbgd's opaque cursor: any string it gave back. */
static gboolean
check_continuation (const char *continuation, GError **error)
{
  return continuation == NULL ||
         devbg_check_string_arg ("continuation", continuation, TRUE, DEVBG_MAX_ID, error);
}

static GVariant *
list_params (const char *continuation)
{
  return g_variant_new ("(s)", continuation != NULL ? continuation : "");
}

/* A peer-to-peer connection (no unique name) has devbgd as its peer. */
static const char *
destination (GDBusConnection *connection)
{
  return g_dbus_connection_get_unique_name (connection) != NULL ? DEVBG_DBUS_SERVICE : NULL;
}

static GVariant *
manager_call_sync (DevbgClient *client, const char *method, GVariant *params,
                   const char *reply_type, GCancellable *cancellable, GError **error)
{
  GDBusConnection *connection = devbg_client_get_connection (client);
  GVariant *reply;

  (void) DEVBG_ERROR; /* devbgd's error names map to DevbgError codes */
  reply = g_dbus_connection_call_sync (connection, destination (connection), DEVBG_DBUS_PATH,
                                       DEVBG_DBUS_MANAGER_INTERFACE, method, params,
                                       G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE, -1,
                                       cancellable, error);
  if (reply == NULL && error != NULL && *error != NULL)
    g_dbus_error_strip_remote_error (*error);
  return reply;
}

/* Calls @method for @task; the task's result is the reply. */
static void
manager_call_async (DevbgClient *client, GTask *task, const char *method, GVariant *params,
                    const char *reply_type)
{
  GDBusConnection *connection = devbg_client_get_connection (client);

  (void) DEVBG_ERROR;
  g_dbus_connection_call (connection, destination (connection), DEVBG_DBUS_PATH,
                          DEVBG_DBUS_MANAGER_INTERFACE, method, params,
                          G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE, -1,
                          g_task_get_cancellable (task), devbg_return_reply_to_task,
                          g_object_ref (task));
}

/* A list channel call's end: the task's result is the reply. */
static void
list_call_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  GVariant *reply = devbg_list_channel_call_finish (result, &error);

  (void) source;
  if (reply == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
}

static GVariant *
finish_reply (DevbgClient *client, GAsyncResult *result, gpointer tag, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tag, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* One ListPermissions page (packed records, devbg-records.h;
 * DEVBG_PERMISSION_FIELDS each), or NULL with @error when the page is
 * malformed: devbgd's reply is checked like any input. */
static GPtrArray *
permissions_from_reply (GVariant *reply, char **next_continuation, GError **error)
{
  g_autoptr(GVariant) packed = g_variant_get_child_value (reply, 0);
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GPtrArray) permissions = NULL;

  fields = devbg_records_parse_variant (packed, DEVBG_PERMISSION_FIELDS, NULL, error);
  if (fields == NULL)
    return NULL;
  permissions = g_ptr_array_new_full (fields->len / DEVBG_PERMISSION_FIELDS, g_object_unref);
  for (guint i = 0; i < fields->len; i += DEVBG_PERMISSION_FIELDS)
    {
      DevbgPermissionEntry entry;

      if (!devbg_records_decode_permission ((const char *const *) &fields->pdata[i],
                                            i / DEVBG_PERMISSION_FIELDS, &entry, error))
        return NULL;
      g_ptr_array_add (permissions, permission_new_from_entry (&entry, packed));
    }
  if (next_continuation != NULL)
    g_variant_get_child (reply, 1, "s", next_continuation);
  return g_steal_pointer (&permissions);
}

/**
 * devbg_client_list_permissions_async:
 * @client: a #DevbgClient
 * @continuation: (nullable): where the previous page ended (its
 *   @next_continuation), %NULL or "" for the first page
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: (closure callback): data for @callback
 *
 * Asks devbgd for one page of the stored use consent the caller may see,
 * oldest first (ListPermissions): root sees every user's, another program
 * its own user's, an app its own user's of itself. A page holds at most
 * %DEVBG_PERMISSIONS_PAGE_MAX_ENTRIES entries; ask again with its @next_continuation
 * until that is "". Finish with devbg_client_list_permissions_finish().
 * The entries of one page share its memory, as devbg_client_get_history_async()'s.
 *
 * Since: 0.2
 */
void
devbg_client_list_permissions_async (DevbgClient *client, const char *continuation,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (DEVBG_IS_CLIENT (client));
  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, devbg_client_list_permissions_async);
  if (!check_continuation (continuation, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  devbg_list_channel_call (devbg_client_get_list_channel (client), "ListPermissions",
                           list_params (continuation), G_VARIANT_TYPE ("(ays)"), cancellable,
                           list_call_done, g_object_ref (task));
}

/**
 * devbg_client_list_permissions_finish:
 * @client: a #DevbgClient
 * @result: the #GAsyncResult given to the callback
 * @next_continuation: (out) (optional) (transfer full): where the next page
 *   starts, "" after the last page
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type DevbgPermission): the page's
 *   stored consents, or %NULL with @error set; free with
 *   g_ptr_array_unref()
 *
 * Since: 0.2
 */
GPtrArray *
devbg_client_list_permissions_finish (DevbgClient *client, GAsyncResult *result,
                                      char **next_continuation, GError **error)
{
  g_autoptr(GVariant) reply = finish_reply (client, result, devbg_client_list_permissions_async,
                                            error);

  return reply != NULL ? permissions_from_reply (reply, next_continuation, error) : NULL;
}

/**
 * devbg_client_list_permissions_sync:
 * @client: a #DevbgClient
 * @continuation: (nullable): where the previous page ended, %NULL or ""
 *   for the first page
 * @next_continuation: (out) (optional) (transfer full): where the next page
 *   starts, "" after the last page
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of devbg_client_list_permissions_async(); as there,
 * the entries of one page share its memory.
 *
 * Returns: (transfer container) (element-type DevbgPermission): the page's
 *   stored consents, or %NULL with @error set; free with
 *   g_ptr_array_unref()
 *
 * Since: 0.2
 */
GPtrArray *
devbg_client_list_permissions_sync (DevbgClient *client, const char *continuation,
                                    char **next_continuation, GCancellable *cancellable,
                                    GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (DEVBG_IS_CLIENT (client), NULL);
  if (!check_continuation (continuation, error))
    return NULL;
  reply = devbg_list_channel_call_sync (devbg_client_get_list_channel (client), "ListPermissions",
                                        list_params (continuation), G_VARIANT_TYPE ("(ays)"),
                                        cancellable, error);
  return reply != NULL ? permissions_from_reply (reply, next_continuation, error) : NULL;
}

/**
 * devbg_client_revoke_permission_async:
 * @client: a #DevbgClient
 * @uid: the user whose consent it is (another user's needs root)
 * @app_id: the app it lets run
 * @model_id: (nullable): the device model, as #DevbgPermission:model-id
 *   names it, %NULL (or %DEVBG_PERMISSION_EVERY_MODEL) for every model
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: (closure callback): data for @callback
 *
 * Has devbgd forget @uid's stored consent for @app_id on devices of
 * @model_id (RevokePermission): the app's next use request asks again,
 * and its running sync tasks on devices of that model are canceled
 * (reason system-policy). A user revokes their own; an app only its own.
 * Finish with devbg_client_revoke_permission_finish().
 *
 * Since: 0.2
 */
void
devbg_client_revoke_permission_async (DevbgClient *client, guint32 uid, const char *app_id,
                                      const char *model_id, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (DEVBG_IS_CLIENT (client));
  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, devbg_client_revoke_permission_async);
  if (!check_revoke (app_id, model_id, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  manager_call_async (client, task, "RevokePermission", revoke_params (uid, app_id, model_id),
                      "(u)");
}

/**
 * devbg_client_revoke_permission_finish:
 * @client: a #DevbgClient
 * @result: the #GAsyncResult given to the callback
 * @n_removed: (out) (optional): how many stored consents were removed
 *   (more than one for every model)
 * @error: return location for a #GError
 *
 * Returns: %TRUE when at least one stored consent was removed; %FALSE with
 *   @error set otherwise: %DEVBG_ERROR_NO_SUCH_PERMISSION when there was
 *   none, %DEVBG_ERROR_ACCESS_DENIED for another user's or another app's,
 *   %DEVBG_ERROR_INVALID_ARGUMENT for a bad argument
 *
 * Since: 0.2
 */
gboolean
devbg_client_revoke_permission_finish (DevbgClient *client, GAsyncResult *result,
                                       guint *n_removed, GError **error)
{
  g_autoptr(GVariant) reply = finish_reply (client, result, devbg_client_revoke_permission_async,
                                            error);

  if (reply == NULL)
    return FALSE;
  if (n_removed != NULL)
    g_variant_get (reply, "(u)", n_removed);
  return TRUE;
}

/**
 * devbg_client_revoke_permission_sync:
 * @client: a #DevbgClient
 * @uid: the user whose consent it is (another user's needs root)
 * @app_id: the app it lets run
 * @model_id: (nullable): the device model, as #DevbgPermission:model-id
 *   names it, %NULL (or %DEVBG_PERMISSION_EVERY_MODEL) for every model
 * @n_removed: (out) (optional): how many stored consents were removed
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of devbg_client_revoke_permission_async().
 *
 * Returns: %TRUE when at least one stored consent was removed; %FALSE with
 *   @error set otherwise (%DEVBG_ERROR_NO_SUCH_PERMISSION when there was
 *   none)
 *
 * Since: 0.2
 */
gboolean
devbg_client_revoke_permission_sync (DevbgClient *client, guint32 uid, const char *app_id,
                                     const char *model_id, guint *n_removed,
                                     GCancellable *cancellable, GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (DEVBG_IS_CLIENT (client), FALSE);
  if (!check_revoke (app_id, model_id, error))
    return FALSE;
  reply = manager_call_sync (client, "RevokePermission", revoke_params (uid, app_id, model_id),
                             "(u)", cancellable, error);
  if (reply == NULL)
    return FALSE;
  if (n_removed != NULL)
    g_variant_get (reply, "(u)", n_removed);
  return TRUE;
}
