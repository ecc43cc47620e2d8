/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-list-channel"

#include "devbg-list-channel.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixoutputstream.h>

#include "devbg-error.h"
#include "devbg-names.h"

/* Past the one being served, the calls that may wait on a channel. */
#define CHANNEL_MAX_WAITING 4
/* The calls refused past those (LimitExceeded) before the last reply is
 * written: past this many, the channel closes. */
#define CHANNEL_MAX_REFUSED 32
/* All users' channels together: each may hold one reply of up to
 * MaxReplyBytes until it is read or CHANNEL_READ_MS passes. */
#define CHANNELS_MAX_TOTAL 32
/* The caller's end has this long to authenticate: GDBus authenticates in
 * a thread of GLib's task pool, which a caller that stalls holds until
 * then (the pool also opens devices: DEVBG_MAX_LIST_CHANNELS a user). */
#define CHANNEL_HANDSHAKE_MS 2000
/* ... and this long to read a reply, which devbgd keeps until then. */
#define CHANNEL_READ_MS 10000

typedef struct _LimitStream LimitStream;

typedef struct {
  DevbgListChannels *owner;        /* NULL once closed */
  char              *key;
  char              *sender;
  DevbgIdentity     *opener;
  GIOStream         *socket;       /* the socket pair's end: closed with @ch */
  LimitStream       *input;        /* what GDBus reads from it */
  GDBusConnection   *connection;   /* NULL until authenticated */
  GCancellable      *cancellable;
  guint              registration;
  gulong             closed_handler;
  guint              timeout;      /* the handshake's, or the last reply's */
  gboolean           busy;         /* a reply not written yet */
  guint              refused;      /* LimitExceeded since the last reply was written */
  GQueue             waiting;      /* of GDBusMethodInvocation */
} Channel;

struct _DevbgListChannels {
  GDBusInterfaceInfo    *manager;
  GStrv                  methods;
  DevbgListChannelServe  serve;
  DevbgListChannelClosed closed;
  gpointer               user_data;
  GHashTable            *by_key;   /* key -> Channel (a reference) */
  guint64                opened;
};

/* ---- the caller's messages, no larger than CHANNEL_MAX_MESSAGE ---- */

/* GDBus reads a message's 16 first bytes, then allocates the length they
 * give (up to 128 MiB) and keeps what came of it until the rest comes: 4
 * channels of a user, each with a message sent but for its last byte, held
 * 400 MiB in devbgd. A call served here is a few hundred bytes. So the
 * stream GDBus reads holds each message's 16 first bytes back until they
 * are all in and give a length of at most CHANNEL_MAX_MESSAGE. */
#define CHANNEL_MAX_MESSAGE (64 * 1024)

struct _LimitStream {
  GInputStream  parent;
  GInputStream *base;
  gboolean      framing;  /* past the line BEGIN: D-Bus messages follow */
  gboolean      nul_seen; /* the byte before the authentication's lines */
  int           match;    /* of "BEGIN\r\n" in the line so far, -1 if not it */
  guint8        prev;
  guint8        head[16]; /* the current message's first bytes, as read */
  gsize         head_len; /* read into head */
  gsize         pos;      /* handed over of the current message */
  gsize         total;    /* its length, once head is whole and checked */
};

typedef GInputStreamClass LimitStreamClass;

static void limit_stream_pollable_init (GPollableInputStreamInterface *iface);
static GType limit_stream_get_type (void);

G_DEFINE_TYPE_WITH_CODE (LimitStream, limit_stream, G_TYPE_INPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                limit_stream_pollable_init))

static guint32
head_u32 (const LimitStream *ls, gsize at)
{
  guint32 v;

  memcpy (&v, ls->head + at, 4);
  return ls->head[0] == 'B' ? GUINT32_FROM_BE (v) : GUINT32_FROM_LE (v);
}

/* Authentication, a byte at a time: messages follow the line BEGIN, as
 * GDBus reads it (lines end with CR LF; a NUL byte comes first). */
static void
limit_stream_text (LimitStream *ls, guint8 c)
{
  static const char begin[] = "BEGIN\r\n";

  if (!ls->nul_seen)
    {
      ls->nul_seen = TRUE;
      return;
    }
  if (ls->match >= 0 && c == (guint8) begin[ls->match])
    ls->framing = ++ls->match == (int) strlen (begin);
  else
    ls->match = -1;
  if (ls->prev == '\r' && c == '\n' && !ls->framing)
    ls->match = 0;
  ls->prev = c;
}

/* Reads at most @count bytes of @ls's base into @buffer, blocking or not. */
static gssize
base_read (LimitStream *ls, void *buffer, gsize count, gboolean blocking,
           GCancellable *cancellable, GError **error)
{
  if (blocking)
    return g_input_stream_read (ls->base, buffer, count, cancellable, error);
  return g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (ls->base), buffer,
                                                   count, NULL, error);
}

/* Whether the current message's head is whole and checked: FALSE with
 * @error when reading failed, would block (not blocking), ended, or the
 * message is too large. */
static gboolean
limit_stream_fill_head (LimitStream *ls, gboolean blocking, GCancellable *cancellable,
                        GError **error)
{
  guint64 fields, body, total;

  while (ls->head_len < sizeof ls->head)
    {
      gssize n = base_read (ls, ls->head + ls->head_len, sizeof ls->head - ls->head_len,
                            blocking, cancellable, error);

      if (n < 0)
        return FALSE;
      if (n == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                       "the list channel closed in the middle of a message");
          return FALSE;
        }
      ls->head_len += (gsize) n;
    }
  if (ls->total != 0)
    return TRUE;
  fields = head_u32 (ls, 12);
  body = head_u32 (ls, 4);
  total = 16 + ((fields + 7) & ~(guint64) 7) + body;
  if (total > CHANNEL_MAX_MESSAGE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "a message of %" G_GUINT64_FORMAT " bytes on a list channel (at most %u)",
                   total, (unsigned) CHANNEL_MAX_MESSAGE);
      return FALSE;
    }
  ls->total = total;
  return TRUE;
}

static gssize
limit_stream_do_read (LimitStream *ls, guint8 *buffer, gsize count, gboolean blocking,
                      GCancellable *cancellable, GError **error)
{
  gssize n;

  if (count == 0)
    return 0;
  if (!ls->framing)
    {
      /* A byte at a time, to see where BEGIN ends. */
      n = base_read (ls, buffer, 1, blocking, cancellable, error);
      if (n > 0)
        limit_stream_text (ls, buffer[0]);
      return n;
    }
  if (ls->pos < sizeof ls->head)
    {
      /* The head, once checked, from where it was kept. */
      if (!limit_stream_fill_head (ls, blocking, cancellable, error))
        return -1;
      n = (gssize) MIN (count, sizeof ls->head - ls->pos);
      memcpy (buffer, ls->head + ls->pos, (gsize) n);
    }
  else
    {
      n = base_read (ls, buffer, MIN (count, ls->total - ls->pos), blocking, cancellable,
                     error);
      if (n <= 0)
        return n;
    }
  ls->pos += (gsize) n;
  if (ls->pos == ls->total)
    ls->pos = ls->total = ls->head_len = 0;
  return n;
}

static gssize
limit_stream_read (GInputStream *stream, void *buffer, gsize count,
                   GCancellable *cancellable, GError **error)
{
  return limit_stream_do_read ((LimitStream *) stream, buffer, count, TRUE, cancellable, error);
}

static gssize
limit_stream_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count,
                               GError **error)
{
  return limit_stream_do_read ((LimitStream *) stream, buffer, count, FALSE, NULL, error);
}

/* A checked head not all handed over yet: readable without the socket. */
static gboolean
limit_stream_holds (LimitStream *ls)
{
  return ls->framing && ls->total != 0 && ls->pos < sizeof ls->head;
}

static gboolean
limit_stream_can_poll (GPollableInputStream *stream)
{
  (void) stream;
  return TRUE;
}

static gboolean
limit_stream_is_readable (GPollableInputStream *stream)
{
  LimitStream *ls = (LimitStream *) stream;

  return limit_stream_holds (ls) ||
         g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (ls->base));
}

static GSource *
limit_stream_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  LimitStream *ls = (LimitStream *) stream;
  GSource *child = limit_stream_holds (ls)
    ? g_timeout_source_new (0)
    : g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (ls->base), NULL);
  GSource *source = g_pollable_source_new_full (stream, child, cancellable);

  g_source_unref (child);
  return source;
}

static void
limit_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = limit_stream_can_poll;
  iface->is_readable = limit_stream_is_readable;
  iface->create_source = limit_stream_create_source;
  iface->read_nonblocking = limit_stream_read_nonblocking;
}

static gboolean
limit_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  (void) stream; (void) cancellable; (void) error;
  return TRUE; /* the channel closes the socket */
}

static void
limit_stream_finalize (GObject *object)
{
  g_object_unref (((LimitStream *) object)->base);
  G_OBJECT_CLASS (limit_stream_parent_class)->finalize (object);
}

static void
limit_stream_init (LimitStream *ls)
{
  (void) ls;
}

static void
limit_stream_class_init (LimitStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = limit_stream_finalize;
  klass->read_fn = limit_stream_read;
  klass->close_fn = limit_stream_close;
}

static LimitStream *
limit_stream_new (GInputStream *base)
{
  LimitStream *ls = g_object_new (limit_stream_get_type (), NULL);

  ls->base = g_object_ref (base);
  return ls;
}

static void
channel_clear (gpointer data)
{
  Channel *ch = data;

  g_free (ch->key);
  g_free (ch->sender);
  devbg_identity_free (ch->opener);
  g_clear_object (&ch->connection);
  if (ch->socket != NULL)
    g_io_stream_close (ch->socket, NULL, NULL);
  g_clear_object (&ch->socket);
  g_clear_object (&ch->input);
  g_clear_object (&ch->cancellable);
}

static void
channel_release (Channel *ch)
{
  g_rc_box_release_full (ch, channel_clear);
}

static void
refuse (GDBusMethodInvocation *invocation, DevbgError code, const char *message)
{
  g_dbus_method_invocation_return_dbus_error (invocation, devbg_error_dbus_name (code), message);
}

/* Closes @ch and forgets it; what waits on it is refused. */
static void
channel_close (Channel *ch, const char *why)
{
  DevbgListChannels *owner = ch->owner;
  GDBusMethodInvocation *waiting;

  if (owner == NULL)
    return;
  ch->owner = NULL;
  g_debug ("list channel %s (uid %u, app %s) closed: %s", ch->key, (unsigned) ch->opener->uid,
           ch->opener->app_id != NULL ? ch->opener->app_id : "-", why);
  g_cancellable_cancel (ch->cancellable);
  g_clear_handle_id (&ch->timeout, g_source_remove);
  while ((waiting = g_queue_pop_head (&ch->waiting)) != NULL)
    refuse (waiting, DEVBG_ERROR_FAILED, "the list channel closed");
  if (ch->connection != NULL)
    {
      if (ch->registration != 0)
        g_dbus_connection_unregister_object (ch->connection, ch->registration);
      g_clear_signal_handler (&ch->closed_handler, ch->connection);
      g_dbus_connection_close (ch->connection, NULL, NULL, NULL);
    }
  owner->closed (owner->user_data, ch->key);
  g_hash_table_remove (owner->by_key, ch->key);
}

static gboolean
on_timeout (gpointer data)
{
  Channel *ch = data;

  ch->timeout = 0;
  if (ch->connection == NULL)
    g_info ("list channel %s (uid %u): its end was not authenticated in %u ms; closed",
            ch->key, (unsigned) ch->opener->uid, CHANNEL_HANDSHAKE_MS);
  else
    g_info ("list channel %s (uid %u): a reply was not read in %u ms; closed", ch->key,
            (unsigned) ch->opener->uid, CHANNEL_READ_MS);
  channel_close (ch, "timed out");
  return G_SOURCE_REMOVE;
}

static void serve_now (Channel *ch, GDBusMethodInvocation *invocation);

static void
on_flushed (GObject *source, GAsyncResult *res, gpointer data)
{
  Channel *ch = data;
  g_autoptr(GError) error = NULL;
  GDBusMethodInvocation *next;

  if (!g_dbus_connection_flush_finish (G_DBUS_CONNECTION (source), res, &error))
    channel_close (ch, error->message);
  else if (ch->owner != NULL)
    {
      g_clear_handle_id (&ch->timeout, g_source_remove);
      ch->busy = FALSE;
      ch->refused = 0;
      next = g_queue_pop_head (&ch->waiting);
      if (next != NULL)
        serve_now (ch, next);
    }
  channel_release (ch);
}

/* Serves @invocation, whose answer (a list page) is given before serve()
 * returns, then waits for it to be written before the next. */
static void
serve_now (Channel *ch, GDBusMethodInvocation *invocation)
{
  DevbgListChannels *owner = ch->owner;
  /* Held while serving: nothing else holds @ch for a method call. */
  Channel *held = g_rc_box_acquire (ch);

  ch->busy = TRUE;
  if (g_strv_contains ((const char *const *) owner->methods,
                       g_dbus_method_invocation_get_method_name (invocation)))
    owner->serve (owner->user_data, ch->opener, ch->key, invocation);
  else
    {
      g_autofree char *served = g_strjoinv (", ", owner->methods);

      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR,
                                             G_DBUS_ERROR_UNKNOWN_METHOD,
                                             "a list channel serves %s only; call %s on the bus",
                                             served,
                                             g_dbus_method_invocation_get_method_name (invocation));
    }
  if (ch->owner != NULL)
    {
      ch->timeout = g_timeout_add (CHANNEL_READ_MS, on_timeout, ch);
      g_dbus_connection_flush (ch->connection, ch->cancellable, on_flushed,
                               g_rc_box_acquire (ch));
    }
  channel_release (held);
}

static void
on_method_call (GDBusConnection *connection, const char *sender, const char *path,
                const char *iface, const char *method, GVariant *params,
                GDBusMethodInvocation *invocation, gpointer user_data)
{
  Channel *ch = user_data;

  (void) connection; (void) sender; (void) path; (void) iface; (void) method; (void) params;
  if (ch->owner == NULL)
    {
      refuse (invocation, DEVBG_ERROR_FAILED, "the list channel closed");
      return;
    }
  /* Refusing a method not served is a reply too: paced as the lists are. */
  if (!ch->busy)
    {
      serve_now (ch, invocation);
      return;
    }
  /* A refusal is a reply devbgd keeps until it is read: past
   * CHANNEL_MAX_REFUSED of them with no reply written, the caller sends
   * and does not read, and the channel closes. */
  if (g_queue_get_length (&ch->waiting) >= CHANNEL_MAX_WAITING)
    {
      refuse (invocation, DEVBG_ERROR_LIMIT_EXCEEDED,
              "a list channel serves one call at a time, and " G_STRINGIFY (CHANNEL_MAX_WAITING)
              " more already wait: read the replies first");
      if (++ch->refused > CHANNEL_MAX_REFUSED)
        channel_close (ch, "calls refused, " G_STRINGIFY (CHANNEL_MAX_REFUSED)
                           " and more, and no reply read");
      return;
    }
  g_queue_push_tail (&ch->waiting, invocation);
}

static const GDBusInterfaceVTable channel_vtable = { on_method_call, NULL, NULL, { 0 } };

/* In GDBus's thread, before GDBus answers anything itself: only calls of
 * the Manager interface's methods, with their arguments' signature, reach
 * on_method_call(), which paces every reply. Anything else is dropped,
 * unanswered: GDBus would answer it (Introspect, Peer, Properties, an
 * unknown method or wrong arguments) at once, and keep each answer until
 * the caller reads it (50,000 Introspect calls sent and not read kept
 * 750 MiB in devbgd). */
static GDBusMessage *
filter_incoming (GDBusConnection *connection, GDBusMessage *message, gboolean incoming,
                 gpointer data)
{
  GDBusInterfaceInfo *manager = data;
  GDBusMethodInfo *method;
  const char *member, *signature;
  g_autoptr(GString) expected = NULL;

  (void) connection;
  if (!incoming)
    return message;
  member = g_dbus_message_get_member (message);
  if (g_dbus_message_get_message_type (message) != G_DBUS_MESSAGE_TYPE_METHOD_CALL ||
      g_strcmp0 (g_dbus_message_get_path (message), DEVBG_DBUS_PATH) != 0 ||
      g_strcmp0 (g_dbus_message_get_interface (message), manager->name) != 0 ||
      member == NULL ||
      (method = g_dbus_interface_info_lookup_method (manager, member)) == NULL)
    goto drop;
  expected = g_string_new (NULL);
  for (guint i = 0; method->in_args != NULL && method->in_args[i] != NULL; i++)
    g_string_append (expected, method->in_args[i]->signature);
  signature = g_dbus_message_get_signature (message);
  if (strcmp (signature != NULL ? signature : "", expected->str) != 0)
    goto drop;
  return message;

drop:
  g_object_unref (message);
  return NULL;
}

static void
on_connection_closed (GDBusConnection *connection, gboolean remote_peer_vanished,
                      GError *error, gpointer data)
{
  (void) connection;
  channel_close (data, g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE)
                         ? error->message
                       : remote_peer_vanished ? "the caller closed it"
                       : error != NULL ? error->message : "closed");
}

static void
on_connection_ready (GObject *source, GAsyncResult *res, gpointer data)
{
  Channel *ch = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = g_dbus_connection_new_finish (res, &error);

  (void) source;
  if (ch->owner == NULL)
    {
      if (connection != NULL)
        g_dbus_connection_close (connection, NULL, NULL, NULL);
    }
  else if (connection == NULL)
    channel_close (ch, error->message);
  else
    {
      g_clear_handle_id (&ch->timeout, g_source_remove);
      ch->connection = g_steal_pointer (&connection);
      ch->closed_handler = g_signal_connect (ch->connection, "closed",
                                             G_CALLBACK (on_connection_closed), ch);
      g_dbus_connection_add_filter (ch->connection, filter_incoming,
                                    g_dbus_interface_info_ref (ch->owner->manager),
                                    (GDestroyNotify) g_dbus_interface_info_unref);
      ch->registration = g_dbus_connection_register_object (ch->connection, DEVBG_DBUS_PATH,
                                                            ch->owner->manager, &channel_vtable,
                                                            ch, NULL, &error);
      if (ch->registration == 0)
        channel_close (ch, error->message);
      else
        g_dbus_connection_start_message_processing (ch->connection);
    }
  channel_release (ch);
}

/* Anonymous only: the socket pair's credentials are devbgd's own, and the
 * caller's identity is the one it had on the bus, not one it claims. */
static gboolean
on_allow_mechanism (GDBusAuthObserver *observer, const char *mechanism, gpointer data)
{
  (void) observer; (void) data;
  return strcmp (mechanism, "ANONYMOUS") == 0;
}

DevbgListChannels *
devbg_list_channels_new (GDBusInterfaceInfo *manager, const char *const *methods,
                         DevbgListChannelServe serve, DevbgListChannelClosed closed,
                         gpointer user_data)
{
  DevbgListChannels *channels = g_new0 (DevbgListChannels, 1);

  channels->manager = g_dbus_interface_info_ref (manager);
  channels->methods = g_strdupv ((char **) methods);
  channels->serve = serve;
  channels->closed = closed;
  channels->user_data = user_data;
  channels->by_key = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) channel_release);
  return channels;
}

void
devbg_list_channels_free (DevbgListChannels *channels)
{
  GHashTableIter iter;
  gpointer ch;

  if (channels == NULL)
    return;
  /* Closed one by one (each leaves the table). */
  for (;;)
    {
      g_hash_table_iter_init (&iter, channels->by_key);
      if (!g_hash_table_iter_next (&iter, NULL, &ch))
        break;
      channel_close (ch, "devbgd stops");
    }
  g_hash_table_unref (channels->by_key);
  g_strfreev (channels->methods);
  g_dbus_interface_info_unref (channels->manager);
  g_free (channels);
}

int
devbg_list_channels_open (DevbgListChannels *channels, const char *sender,
                          const DevbgIdentity *opener, GError **error)
{
  g_autoptr(GDBusAuthObserver) observer = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) stream = NULL;
  g_autoptr(GIOStream) plain = NULL;
  g_autoptr(GOutputStream) out = NULL;
  g_autofree char *guid = NULL;
  GHashTableIter iter;
  gpointer value;
  guint of_user = 0;
  int pair[2];
  Channel *ch;

  g_hash_table_iter_init (&iter, channels->by_key);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    of_user += ((Channel *) value)->opener->uid == opener->uid;
  if (of_user >= DEVBG_MAX_LIST_CHANNELS)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_LIMIT_EXCEEDED,
                   "user %u already has %u list channels open (DEVBG_MAX_LIST_CHANNELS); "
                   "close one, or list on the bus", (unsigned) opener->uid, of_user);
      return -1;
    }
  if (g_hash_table_size (channels->by_key) >= CHANNELS_MAX_TOTAL)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_LIMIT_EXCEEDED,
                   "%u list channels are open, the most devbgd keeps; list on the bus",
                   g_hash_table_size (channels->by_key));
      return -1;
    }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    {
      int saved = errno;

      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "cannot make a socket pair: %s",
                   g_strerror (saved));
      return -1;
    }
  socket = g_socket_new_from_fd (pair[0], error);
  if (socket == NULL)
    {
      close (pair[0]);
      close (pair[1]);
      return -1;
    }
  stream = g_socket_connection_factory_create_connection (socket);

  ch = g_rc_box_new0 (Channel);
  ch->owner = channels;
  ch->key = g_strdup_printf (":list-channel-%" G_GUINT64_FORMAT, ++channels->opened);
  ch->sender = g_strdup (sender);
  ch->opener = devbg_identity_copy (opener);
  ch->cancellable = g_cancellable_new ();
  ch->socket = G_IO_STREAM (g_object_ref (stream));
  g_queue_init (&ch->waiting);
  g_hash_table_insert (channels->by_key, ch->key, ch);

  guid = g_dbus_generate_guid ();
  observer = g_dbus_auth_observer_new ();
  g_signal_connect (observer, "allow-mechanism", G_CALLBACK (on_allow_mechanism), NULL);
  ch->timeout = g_timeout_add (CHANNEL_HANDSHAKE_MS, on_timeout, ch);
  /* Not the socket connection itself: on one, GDBus reads what file
   * descriptors come with every read (whether or not the caller negotiated
   * them) and keeps them until the message they came with is whole, so a
   * caller that sends one message slowly, each byte with 250 descriptors,
   * fills devbgd's table, and every caller's call fails (EMFILE) for as long
   * as it likes. On a plain stream GDBus reads with recv(), and the kernel
   * closes what descriptors come. No call served here takes one. (It writes
   * on a socket's output stream as on a socket connection, hence a plain
   * one on the same descriptor, which @ch->socket keeps open.) */
  out = g_unix_output_stream_new (pair[0], FALSE);
  ch->input = limit_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (stream)));
  plain = g_simple_io_stream_new (G_INPUT_STREAM (ch->input), out);
  g_dbus_connection_new (plain, guid,
                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER |
                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_ALLOW_ANONYMOUS |
                         G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING,
                         observer, ch->cancellable, on_connection_ready, g_rc_box_acquire (ch));
  g_debug ("list channel %s opened for %s (uid %u, app %s)", ch->key, sender,
           (unsigned) opener->uid, opener->app_id != NULL ? opener->app_id : "-");
  return pair[1];
}

void
devbg_list_channels_forget_sender (DevbgListChannels *channels, const char *sender)
{
  g_autoptr(GPtrArray) leaving = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, channels->by_key);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((Channel *) value)->sender, sender) == 0)
      g_ptr_array_add (leaving, value);
  for (guint i = 0; i < leaving->len; i++)
    channel_close (g_ptr_array_index (leaving, i), "its opener left the bus");
}
