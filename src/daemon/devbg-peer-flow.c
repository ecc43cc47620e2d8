/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-peer-flow"

#include "devbg-peer-flow.h"

typedef struct {
  char     *signal;
  GVariant *params;
  char     *coalesce_key; /* may be NULL */
} Queued;

typedef struct {
  guint32  uid;
  guint    credit;
  gboolean pinging;  /* a Ping is out, unanswered */
  gboolean dropped;  /* its queue outgrew the bound: sent nothing */
  GQueue   queue;    /* of Queued, oldest first */
} Peer;

struct _DevbgPeerFlow {
  GDBusConnection     *connection;
  char                *object_path;
  char                *interface;
  guint                window;
  guint                max_queued;
  DevbgPeerFlowDropped dropped;
  gpointer             user_data;
  GHashTable          *peers;        /* unique name -> Peer */
  GHashTable          *pings_of_uid; /* uid -> Pings out */
  guint                pings;        /* Pings out in all */
  GCancellable        *cancellable;  /* the Pings', canceled when freed */
};

typedef struct {
  DevbgPeerFlow *flow;
  char          *peer;
  guint32        uid;
} Ping;

static void
queued_free (Queued *q)
{
  g_free (q->signal);
  g_variant_unref (q->params);
  g_free (q->coalesce_key);
  g_free (q);
}

static void
peer_clear_queue (Peer *p)
{
  g_queue_clear_full (&p->queue, (GDestroyNotify) queued_free);
}

static void
peer_free (Peer *p)
{
  peer_clear_queue (p);
  g_free (p);
}

DevbgPeerFlow *
devbg_peer_flow_new (GDBusConnection *connection, const char *object_path,
                     const char *interface, guint window, guint max_queued,
                     DevbgPeerFlowDropped dropped, gpointer user_data)
{
  DevbgPeerFlow *flow = g_new0 (DevbgPeerFlow, 1);

  flow->connection = g_object_ref (connection);
  flow->object_path = g_strdup (object_path);
  flow->interface = g_strdup (interface);
  flow->window = MAX (window, 1);
  flow->max_queued = max_queued;
  flow->dropped = dropped;
  flow->user_data = user_data;
  flow->peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) peer_free);
  flow->pings_of_uid = g_hash_table_new (NULL, NULL);
  flow->cancellable = g_cancellable_new ();
  return flow;
}

void
devbg_peer_flow_free (DevbgPeerFlow *flow)
{
  if (flow == NULL)
    return;
  g_cancellable_cancel (flow->cancellable);
  g_object_unref (flow->cancellable);
  g_hash_table_unref (flow->peers);
  g_hash_table_unref (flow->pings_of_uid);
  g_object_unref (flow->connection);
  g_free (flow->object_path);
  g_free (flow->interface);
  g_free (flow);
}

static guint
pings_of_uid (DevbgPeerFlow *flow, guint32 uid)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (flow->pings_of_uid, GUINT_TO_POINTER (uid)));
}

static void
count_ping (DevbgPeerFlow *flow, guint32 uid, int delta)
{
  guint n = pings_of_uid (flow, uid) + (guint) delta;

  flow->pings += (guint) delta;
  if (n == 0)
    g_hash_table_remove (flow->pings_of_uid, GUINT_TO_POINTER (uid));
  else
    g_hash_table_insert (flow->pings_of_uid, GUINT_TO_POINTER (uid), GUINT_TO_POINTER (n));
}

static void
emit (DevbgPeerFlow *flow, const char *peer, const char *signal, GVariant *params)
{
  g_dbus_connection_emit_signal (flow->connection, peer, flow->object_path, flow->interface,
                                 signal, params, NULL);
}

static void try_ping (DevbgPeerFlow *flow, const char *peer, Peer *p);

/* Sends what waits while there is credit. */
static void
flush (DevbgPeerFlow *flow, const char *peer, Peer *p)
{
  Queued *q;

  while (p->credit > 0 && (q = g_queue_pop_head (&p->queue)) != NULL)
    {
      p->credit--;
      emit (flow, peer, q->signal, q->params);
      queued_free (q);
    }
  if (p->credit == 0)
    try_ping (flow, peer, p);
}

static void
on_pong (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Ping *ping = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  DevbgPeerFlow *flow = ping->flow;
  Peer *p;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    goto out; /* devbgd stopping: @flow is gone */
  count_ping (flow, ping->uid, -1);
  p = g_hash_table_lookup (flow->peers, ping->peer);
  if (p == NULL)
    goto out; /* it left */
  p->pinging = FALSE;
  if (reply == NULL)
    {
      /* It is gone, or the bus refused the call: no credit; the next
       * signal for it tries again. */
      g_debug ("no answer to the Ping of %s: %s", ping->peer, error->message);
      goto out;
    }
  p->credit = flow->window;
  flush (flow, ping->peer, p);
out:
  g_free (ping->peer);
  g_free (ping);
}

/* One Ping out per connection, within the bounds: without one, a paused
 * connection waits for the next signal for it to try again. */
static void
try_ping (DevbgPeerFlow *flow, const char *peer, Peer *p)
{
  Ping *ping;

  if (p->pinging || p->dropped || flow->pings >= DEVBG_PEER_FLOW_MAX_PINGS ||
      pings_of_uid (flow, p->uid) >= DEVBG_PEER_FLOW_MAX_PINGS_PER_UID)
    return;
  ping = g_new0 (Ping, 1);
  ping->flow = flow;
  ping->peer = g_strdup (peer);
  ping->uid = p->uid;
  p->pinging = TRUE;
  count_ping (flow, p->uid, +1);
  /* No timeout: one that timed out here would stay pending in
   * dbus-daemon all the same, and a second would be one more. */
  g_dbus_connection_call (flow->connection, peer, "/", "org.freedesktop.DBus.Peer", "Ping",
                          NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, G_MAXINT,
                          flow->cancellable, on_pong, ping);
}

static void
enqueue (DevbgPeerFlow *flow, const char *peer, Peer *p, const char *signal, GVariant *params,
         const char *coalesce_key)
{
  Queued *q;

  if (coalesce_key != NULL)
    for (GList *l = p->queue.head; l != NULL; l = l->next)
      if (g_strcmp0 (((Queued *) l->data)->coalesce_key, coalesce_key) == 0)
        {
          queued_free (l->data);
          g_queue_delete_link (&p->queue, l);
          break;
        }
  if (g_queue_get_length (&p->queue) >= flow->max_queued)
    {
      g_warning ("connection %s (uid %u) does not read its signals (%u waiting, and a Ping): it "
                 "is sent none until it asks again", peer, (unsigned) p->uid,
                 g_queue_get_length (&p->queue));
      p->dropped = TRUE;
      peer_clear_queue (p);
      if (flow->dropped != NULL)
        flow->dropped (peer, flow->user_data);
      return;
    }
  q = g_new0 (Queued, 1);
  q->signal = g_strdup (signal);
  q->params = g_variant_ref (params);
  q->coalesce_key = g_strdup (coalesce_key);
  g_queue_push_tail (&p->queue, q);
  try_ping (flow, peer, p);
}

void
devbg_peer_flow_send (DevbgPeerFlow *flow, const char *peer, guint32 uid, const char *signal,
                      GVariant *params, const char *coalesce_key)
{
  Peer *p = g_hash_table_lookup (flow->peers, peer);

  g_variant_ref_sink (params);
  if (p == NULL)
    {
      p = g_new0 (Peer, 1);
      p->uid = uid;
      p->credit = flow->window;
      g_queue_init (&p->queue);
      g_hash_table_insert (flow->peers, g_strdup (peer), p);
    }
  if (p->dropped)
    ;
  else if (p->credit > 0 && g_queue_is_empty (&p->queue))
    {
      emit (flow, peer, signal, params);
      if (--p->credit == 0)
        try_ping (flow, peer, p);
    }
  else
    enqueue (flow, peer, p, signal, params, coalesce_key);
  g_variant_unref (params);
}

void
devbg_peer_flow_reset (DevbgPeerFlow *flow, const char *peer)
{
  Peer *p = g_hash_table_lookup (flow->peers, peer);

  if (p != NULL)
    p->dropped = FALSE;
}

void
devbg_peer_flow_forget (DevbgPeerFlow *flow, const char *peer)
{
  /* A Ping still out is counted until it returns (dbus-daemon keeps it
   * until the peer is gone, which it now is). */
  g_hash_table_remove (flow->peers, peer);
}
