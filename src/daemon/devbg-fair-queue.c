/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-fair-queue"

#include "devbg-fair-queue.h"

struct _DevbgFairQueue {
  guint                max_per_owner;
  DevbgFairQueueServe  serve;
  GDestroyNotify       drop;
  gpointer             user_data;
  GHashTable          *by_owner;  /* owner -> GQueue of items, only while not empty */
  GQueue               turns;     /* owners with items waiting, next first */
  guint                waiting;
  guint                source;
};

DevbgFairQueue *
devbg_fair_queue_new (guint max_per_owner, DevbgFairQueueServe serve, GDestroyNotify drop,
                      gpointer user_data)
{
  DevbgFairQueue *queue = g_new0 (DevbgFairQueue, 1);

  g_return_val_if_fail (max_per_owner > 0, NULL);
  queue->max_per_owner = max_per_owner;
  queue->serve = serve;
  queue->drop = drop;
  queue->user_data = user_data;
  queue->by_owner = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_queue_init (&queue->turns);
  return queue;
}

void
devbg_fair_queue_free (DevbgFairQueue *queue)
{
  GHashTableIter iter;
  gpointer items;

  if (queue == NULL)
    return;
  g_clear_handle_id (&queue->source, g_source_remove);
  g_hash_table_iter_init (&iter, queue->by_owner);
  while (g_hash_table_iter_next (&iter, NULL, &items))
    g_queue_free_full (items, queue->drop);
  g_hash_table_unref (queue->by_owner);
  g_queue_clear (&queue->turns);
  g_free (queue);
}

/* The key of @owner: never NULL (root is 0), which GQueue cannot tell
 * from none. */
static gpointer
owner_key (guint32 owner)
{
  return GSIZE_TO_POINTER ((gsize) owner + 1);
}

gboolean
devbg_fair_queue_serve_one (DevbgFairQueue *queue)
{
  gpointer owner;
  GQueue *items;
  gpointer item;

  if (g_queue_is_empty (&queue->turns))
    return FALSE;
  owner = g_queue_pop_head (&queue->turns);
  items = g_hash_table_lookup (queue->by_owner, owner);
  item = g_queue_pop_head (items);
  if (g_queue_is_empty (items))
    {
      g_hash_table_remove (queue->by_owner, owner);
      g_queue_free (items);
    }
  else
    g_queue_push_tail (&queue->turns, owner); /* its next, after the others' */
  queue->waiting--;
  queue->serve (item, queue->user_data);
  return TRUE;
}

static gboolean
on_turn (gpointer data)
{
  DevbgFairQueue *queue = data;

  devbg_fair_queue_serve_one (queue);
  if (queue->waiting > 0)
    return G_SOURCE_CONTINUE;
  queue->source = 0;
  return G_SOURCE_REMOVE;
}

gboolean
devbg_fair_queue_push (DevbgFairQueue *queue, guint32 owner, gpointer item)
{
  gpointer key = owner_key (owner);
  GQueue *items = g_hash_table_lookup (queue->by_owner, key);

  if (items != NULL && g_queue_get_length (items) >= queue->max_per_owner)
    return FALSE;
  if (items == NULL)
    {
      items = g_queue_new ();
      g_hash_table_insert (queue->by_owner, key, items);
      g_queue_push_tail (&queue->turns, key);
    }
  g_queue_push_tail (items, item);
  queue->waiting++;
  if (queue->source == 0)
    queue->source = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, on_turn, queue, NULL);
  return TRUE;
}

guint
devbg_fair_queue_waiting (DevbgFairQueue *queue)
{
  return queue->waiting;
}
