/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-task-watch"

#include "devbg-task-watch.h"

#include "devbg-error.h"
#include "devbg-names.h"

/* One watching connection: who it is, for devbg_runtime_may_see(). */
typedef struct {
  char   *sender;
  char   *app_id;   /* NULL for a tool */
  uid_t   uid;
} Watcher;

struct _DevbgTaskWatch {
  DevbgPeerFlow   *flow;       /* not owned */
  GHashTable      *watchers;   /* unique name -> Watcher */
  gulong           hooks[3];
  guint            hook_signals[3];
};

static void
watcher_free (Watcher *w)
{
  g_free (w->sender);
  g_free (w->app_id);
  g_free (w);
}

/* TaskChanged carries the instance's whole state: only the latest of an
 * instance counts while a watcher has not read (devbg-peer-flow.h). */
static void
notify (DevbgTaskWatch *watch, DevbgInstance *instance, gboolean ended)
{
  const DevbgInstanceRecord *r = devbg_instance_get_record (instance);
  g_autoptr(GVariant) entry = g_variant_ref_sink (devbg_instance_to_variant (instance));
  g_autofree char *key = g_strconcat ("TaskChanged ", r->instance_id, NULL);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, watch->watchers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Watcher *w = value;
      DevbgCaller caller = { .sender = w->sender, .app_id = w->app_id, .uid = w->uid };

      if (!devbg_runtime_may_see (&caller, r))
        continue;
      devbg_peer_flow_send (watch->flow, w->sender, w->uid, ended ? "TaskEnded" : "TaskChanged",
                            ended ? g_variant_new ("(s@a{sv})", r->instance_id, entry)
                                  : g_variant_new ("(@a{sv})", entry),
                            ended ? NULL : key);
    }
}

/* Any instance's "state-changed", "progress" or "finished": devbgd runs
 * one runtime, so every instance is this watch's. */
static gboolean
on_instance_signal (GSignalInvocationHint *hint, guint n_params, const GValue *params,
                    gpointer user_data)
{
  DevbgTaskWatch *watch = user_data;
  DevbgInstance *instance = g_value_get_object (&params[0]);

  if (g_hash_table_size (watch->watchers) > 0)
    notify (watch, instance, hint->signal_id == watch->hook_signals[2]);
  return TRUE;
}

DevbgTaskWatch *
devbg_task_watch_new (DevbgPeerFlow *flow)
{
  static const char *const signals[] = { "state-changed", "progress", "finished" };
  DevbgTaskWatch *watch = g_new0 (DevbgTaskWatch, 1);

  /* The signals exist once the class does: made now, kept for good. */
  g_type_class_unref (g_type_class_ref (DEVBG_TYPE_INSTANCE));
  watch->flow = flow;
  watch->watchers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                           (GDestroyNotify) watcher_free);
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      watch->hook_signals[i] = g_signal_lookup (signals[i], DEVBG_TYPE_INSTANCE);
      watch->hooks[i] = g_signal_add_emission_hook (watch->hook_signals[i], 0,
                                                    on_instance_signal, watch, NULL);
    }
  return watch;
}

void
devbg_task_watch_free (DevbgTaskWatch *watch)
{
  if (watch == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (watch->hooks); i++)
    g_signal_remove_emission_hook (watch->hook_signals[i], watch->hooks[i]);
  g_hash_table_unref (watch->watchers);
  g_free (watch);
}

void
devbg_task_watch_remove (DevbgTaskWatch *watch, const char *peer)
{
  g_hash_table_remove (watch->watchers, peer);
}


gboolean
devbg_task_watch_add (DevbgTaskWatch *watch, const DevbgCaller *caller, GError **error)
{
  GHashTableIter iter;
  gpointer value;
  guint of_user = 0;
  Watcher *w;

  if (g_hash_table_contains (watch->watchers, caller->sender))
    return TRUE;
  g_hash_table_iter_init (&iter, watch->watchers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    of_user += ((Watcher *) value)->uid == caller->uid;
  if (of_user >= DEVBG_MAX_TASK_WATCHERS)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_LIMIT_EXCEEDED,
                   "uid %u already watches tasks on %u connections, the most there may be",
                   (unsigned) caller->uid, of_user);
      return FALSE;
    }
  w = g_new0 (Watcher, 1);
  w->sender = g_strdup (caller->sender);
  w->app_id = g_strdup (caller->app_id);
  w->uid = caller->uid;
  g_hash_table_insert (watch->watchers, w->sender, w);
  devbg_peer_flow_reset (watch->flow, w->sender);
  /* Until it leaves the bus: devbg_runtime_peer_vanished() removes it (one
   * NameOwnerChanged subscription for all, no match rule per watcher). */
  return TRUE;
}
