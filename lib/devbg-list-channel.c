/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-list-channel.h"
#include "devbg-client-private.h"

#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "devbg-error.h"
#include "devbg-names.h"

struct _DevbgListChannel {
  GMutex           lock;
  GDBusConnection *connection;    /* the client's */
  gboolean         peer_to_peer;  /* @connection's peer is devbgd: no channel */
  GDBusConnection *channel;       /* open; NULL before, and once closed */
  gboolean         opening;
  gboolean         refused;       /* devbgd has none or would not open one */
  gboolean         closed;        /* the client went */
};

DevbgListChannel *
devbg_list_channel_new (GDBusConnection *connection)
{
  DevbgListChannel *lc = g_atomic_rc_box_new0 (DevbgListChannel);

  g_mutex_init (&lc->lock);
  lc->connection = g_object_ref (connection);
  lc->peer_to_peer = g_dbus_connection_get_unique_name (connection) == NULL;
  return lc;
}

static void
list_channel_clear (gpointer data)
{
  DevbgListChannel *lc = data;

  g_clear_object (&lc->channel);
  g_clear_object (&lc->connection);
  g_mutex_clear (&lc->lock);
}

DevbgListChannel *
devbg_list_channel_ref (DevbgListChannel *lc)
{
  return g_atomic_rc_box_acquire (lc);
}

void
devbg_list_channel_unref (DevbgListChannel *lc)
{
  g_atomic_rc_box_release_full (lc, list_channel_clear);
}

void
devbg_list_channel_close (DevbgListChannel *lc)
{
  GDBusConnection *channel;

  g_mutex_lock (&lc->lock);
  lc->closed = TRUE;
  channel = g_steal_pointer (&lc->channel);
  g_mutex_unlock (&lc->lock);
  if (channel != NULL)
    {
      g_dbus_connection_close (channel, NULL, NULL, NULL);
      g_object_unref (channel);
    }
}

/* The open channel (a reference), or NULL; a closed one is dropped (devbgd
 * restarted, or closed it), to be opened again. */
static GDBusConnection *
channel_get (DevbgListChannel *lc)
{
  GDBusConnection *channel = NULL;

  g_mutex_lock (&lc->lock);
  if (lc->channel != NULL && g_dbus_connection_is_closed (lc->channel))
    g_clear_object (&lc->channel);
  if (lc->channel != NULL)
    channel = g_object_ref (lc->channel);
  g_mutex_unlock (&lc->lock);
  return channel;
}

/* Whether the caller is to open the channel now: one opening at a time. */
static gboolean
channel_begin_open (DevbgListChannel *lc)
{
  gboolean begin;

  g_mutex_lock (&lc->lock);
  begin = !lc->peer_to_peer && lc->channel == NULL && !lc->opening && !lc->refused &&
          !lc->closed;
  lc->opening |= begin;
  g_mutex_unlock (&lc->lock);
  return begin;
}

/* Ends an opening with @opened (transfer full), or with none: then, unless
 * it was cut short, devbgd is not asked again (the calls go on the bus). */
static void
channel_end_open (DevbgListChannel *lc, GDBusConnection *opened, const GError *error)
{
  g_mutex_lock (&lc->lock);
  lc->opening = FALSE;
  if (opened != NULL && !lc->closed && lc->channel == NULL)
    lc->channel = g_steal_pointer (&opened);
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_debug ("no list channel, the lists go on the bus: %s", error->message);
      lc->refused = TRUE;
    }
  g_mutex_unlock (&lc->lock);
  if (opened != NULL)
    {
      g_dbus_connection_close (opened, NULL, NULL, NULL);
      g_object_unref (opened);
    }
}

/* The stream of OpenListChannel's reply @reply (its fds in @fds). */
static GIOStream *
channel_stream (GVariant *reply, GUnixFDList *fds, GError **error)
{
  g_autoptr(GSocket) socket = NULL;
  gint32 handle;
  int fd;

  g_variant_get (reply, "(h)", &handle);
  fd = fds != NULL ? g_unix_fd_list_get (fds, handle, error) : -1;
  if (fd < 0)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED,
                     "devbgd answered OpenListChannel without a file descriptor");
      return NULL;
    }
  socket = g_socket_new_from_fd (fd, error);
  if (socket == NULL)
    {
      close (fd);
      return NULL;
    }
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

static GDBusConnection *
channel_open_sync (DevbgListChannel *lc, GCancellable *cancellable, GError **error)
{
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GIOStream) stream = NULL;

  reply = g_dbus_connection_call_with_unix_fd_list_sync (
    lc->connection, DEVBG_DBUS_SERVICE, DEVBG_DBUS_PATH, DEVBG_DBUS_MANAGER_INTERFACE,
    "OpenListChannel", NULL, G_VARIANT_TYPE ("(h)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &fds,
    cancellable, error);
  if (reply == NULL)
    return NULL;
  stream = channel_stream (reply, fds, error);
  if (stream == NULL)
    return NULL;
  return g_dbus_connection_new_sync (stream, NULL, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                     NULL, cancellable, error);
}

static void
on_channel_ready (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(DevbgListChannel) lc = data;
  g_autoptr(GError) error = NULL;
  GDBusConnection *opened = g_dbus_connection_new_finish (res, &error);

  (void) source;
  channel_end_open (lc, opened, error);
}

static void
on_channel_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  DevbgListChannel *lc = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GIOStream) stream = NULL;

  reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), &fds,
                                                           res, &error);
  if (reply != NULL)
    stream = channel_stream (reply, fds, &error);
  if (stream == NULL)
    {
      channel_end_open (lc, NULL, error);
      devbg_list_channel_unref (lc);
      return;
    }
  g_dbus_connection_new (stream, NULL, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL,
                         NULL, on_channel_ready, lc);
}

static void
channel_open (DevbgListChannel *lc)
{
  g_dbus_connection_call_with_unix_fd_list (
    lc->connection, DEVBG_DBUS_SERVICE, DEVBG_DBUS_PATH, DEVBG_DBUS_MANAGER_INTERFACE,
    "OpenListChannel", NULL, G_VARIANT_TYPE ("(h)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL,
    on_channel_opened, devbg_list_channel_ref (lc));
}

/* Whether a call that failed on @channel is made again on the bus: the
 * channel closed (devbgd restarted, or closed it), or had too many calls
 * waiting. A list is only read: asking twice changes nothing. */
static gboolean
falls_back (GDBusConnection *channel, const GError *error)
{
  return g_dbus_connection_is_closed (channel) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
         g_error_matches (error, DEVBG_ERROR, DEVBG_ERROR_LIMIT_EXCEEDED);
}

static const char *
destination (DevbgListChannel *lc)
{
  return lc->peer_to_peer ? NULL : DEVBG_DBUS_SERVICE;
}

GVariant *
devbg_list_channel_call_sync (DevbgListChannel *lc, const char *method, GVariant *params,
                              const GVariantType *reply_type, GCancellable *cancellable,
                              GError **error)
{
  g_autoptr(GVariant) args = g_variant_ref_sink (params);
  g_autoptr(GDBusConnection) channel = channel_get (lc);
  GVariant *reply;

  if (channel == NULL && channel_begin_open (lc))
    {
      g_autoptr(GError) open_error = NULL;

      channel = channel_open_sync (lc, cancellable, &open_error);
      channel_end_open (lc, channel != NULL ? g_object_ref (channel) : NULL, open_error);
    }
  if (channel != NULL)
    {
      g_autoptr(GError) local = NULL;

      reply = g_dbus_connection_call_sync (channel, NULL, DEVBG_DBUS_PATH,
                                           DEVBG_DBUS_MANAGER_INTERFACE, method, args,
                                           reply_type, G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                                           &local);
      if (reply != NULL)
        return reply;
      if (!falls_back (channel, local))
        {
          g_dbus_error_strip_remote_error (local);
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      g_debug ("%s on the list channel: %s; asked on the bus", method, local->message);
    }
  reply = g_dbus_connection_call_sync (lc->connection, destination (lc), DEVBG_DBUS_PATH,
                                       DEVBG_DBUS_MANAGER_INTERFACE, method, args, reply_type,
                                       G_DBUS_CALL_FLAGS_NONE, -1, cancellable, error);
  if (reply == NULL && error != NULL && *error != NULL)
    g_dbus_error_strip_remote_error (*error);
  return reply;
}

/* One call of devbg_list_channel_call(), the GTask's data. */
typedef struct {
  DevbgListChannel *lc;
  GDBusConnection  *channel;  /* the one it went on, NULL on the bus */
  char             *method;
  GVariant         *args;
  GVariantType     *reply_type;
} ListCall;

static void
list_call_free (ListCall *call)
{
  devbg_list_channel_unref (call->lc);
  g_clear_object (&call->channel);
  g_free (call->method);
  g_variant_unref (call->args);
  g_variant_type_free (call->reply_type);
  g_free (call);
}

void
devbg_return_reply_to_task (GObject *source, GAsyncResult *res, gpointer task_data)
{
  g_autoptr(GTask) task = task_data;
  g_autoptr(GError) error = NULL;
  GVariant *reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);

  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
}

static void
call_on_bus (GTask *task)
{
  ListCall *call = g_task_get_task_data (task);

  g_dbus_connection_call (call->lc->connection, destination (call->lc), DEVBG_DBUS_PATH,
                          DEVBG_DBUS_MANAGER_INTERFACE, call->method, call->args,
                          call->reply_type, G_DBUS_CALL_FLAGS_NONE, -1,
                          g_task_get_cancellable (task), devbg_return_reply_to_task, task);
}

static void
on_channel_reply (GObject *source, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  ListCall *call = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GVariant *reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);

  if (reply != NULL)
    g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
  else if (falls_back (call->channel, error))
    {
      g_debug ("%s on the list channel: %s; asked on the bus", call->method, error->message);
      call_on_bus (g_steal_pointer (&task));
      return;
    }
  else
    {
      g_dbus_error_strip_remote_error (error);
      g_task_return_error (task, g_steal_pointer (&error));
    }
  g_object_unref (task);
}

void
devbg_list_channel_call (DevbgListChannel *lc, const char *method, GVariant *params,
                         const GVariantType *reply_type, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  ListCall *call = g_new0 (ListCall, 1);

  g_task_set_source_tag (task, devbg_list_channel_call);
  call->lc = devbg_list_channel_ref (lc);
  call->method = g_strdup (method);
  call->args = g_variant_ref_sink (params);
  call->reply_type = g_variant_type_copy (reply_type);
  call->channel = channel_get (lc);
  g_task_set_task_data (task, call, (GDestroyNotify) list_call_free);
  /* The first call goes on the bus while the channel opens. */
  if (call->channel == NULL && channel_begin_open (lc))
    channel_open (lc);
  if (call->channel == NULL)
    {
      call_on_bus (task);
      return;
    }
  g_dbus_connection_call (call->channel, NULL, DEVBG_DBUS_PATH, DEVBG_DBUS_MANAGER_INTERFACE,
                          method, call->args, reply_type, G_DBUS_CALL_FLAGS_NONE, -1,
                          cancellable, on_channel_reply, task);
}

GVariant *
devbg_list_channel_call_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
