/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-peer-flow"

#include "devbg-peer-flow.h"

typedef struct {
  guint    credit;
  gboolean pinging;  /* a Ping is out, unanswered */
  gboolean missed;   /* a signal was skipped since the window ran out */
} PeerCredit;

struct _DevbgPeerFlow {
  GDBusConnection     *connection;
  guint                window;
  guint                ping_timeout_ms;
  DevbgPeerFlowResumed resumed;
  gpointer             user_data;
  GHashTable          *peers;       /* unique name -> PeerCredit */
  GCancellable        *cancellable; /* the Pings', canceled when freed */
};

typedef struct {
  DevbgPeerFlow *flow;
  char          *peer;
} Ping;

DevbgPeerFlow *
devbg_peer_flow_new (GDBusConnection *connection, guint window, guint ping_timeout_ms,
                     DevbgPeerFlowResumed resumed, gpointer user_data)
{
  DevbgPeerFlow *flow = g_new0 (DevbgPeerFlow, 1);

  g_return_val_if_fail (window > 0, NULL);
  flow->connection = g_object_ref (connection);
  flow->window = window;
  flow->ping_timeout_ms = ping_timeout_ms;
  flow->resumed = resumed;
  flow->user_data = user_data;
  flow->peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
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
  g_object_unref (flow->connection);
  g_free (flow);
}

static void
on_pong (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Ping *ping = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  PeerCredit *c;
  gboolean missed;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      (c = g_hash_table_lookup (ping->flow->peers, ping->peer)) == NULL)
    goto out; /* devbgd stopping, or the peer left */
  c->pinging = FALSE;
  if (reply == NULL)
    {
      /* No answer in time: it does not read. It stays paused; the next
       * signal for it asks again, so at most one Ping is out at a time. */
      g_debug ("%s did not answer its Ping (%s): no progress for it until it does",
               ping->peer, error->message);
      goto out;
    }
  c->credit = ping->flow->window;
  missed = c->missed;
  c->missed = FALSE;
  if (missed && ping->flow->resumed != NULL)
    ping->flow->resumed (ping->peer, ping->flow->user_data);
out:
  g_free (ping->peer);
  g_free (ping);
}

static void
send_ping (DevbgPeerFlow *flow, const char *peer, PeerCredit *c)
{
  Ping *ping = g_new0 (Ping, 1);

  ping->flow = flow;
  ping->peer = g_strdup (peer);
  c->pinging = TRUE;
  g_dbus_connection_call (flow->connection, peer, "/", "org.freedesktop.DBus.Peer", "Ping",
                          NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          (int) flow->ping_timeout_ms, flow->cancellable, on_pong, ping);
}

gboolean
devbg_peer_flow_take (DevbgPeerFlow *flow, const char *peer)
{
  PeerCredit *c = g_hash_table_lookup (flow->peers, peer);

  if (c == NULL)
    {
      c = g_new0 (PeerCredit, 1);
      c->credit = flow->window;
      g_hash_table_insert (flow->peers, g_strdup (peer), c);
    }
  if (c->credit == 0)
    {
      c->missed = TRUE;
      if (!c->pinging)
        send_ping (flow, peer, c);
      return FALSE;
    }
  if (--c->credit == 0)
    send_ping (flow, peer, c);
  return TRUE;
}

gboolean
devbg_peer_flow_missed (DevbgPeerFlow *flow, const char *peer)
{
  PeerCredit *c = g_hash_table_lookup (flow->peers, peer);

  return c != NULL && c->missed;
}

void
devbg_peer_flow_forget (DevbgPeerFlow *flow, const char *peer)
{
  g_hash_table_remove (flow->peers, peer);
}

guint
devbg_peer_flow_size (DevbgPeerFlow *flow)
{
  return g_hash_table_size (flow->peers);
}
