/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl tasks | history [N] | cancel INSTANCE_ID
 */
#include "devbgctl.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

/* libdevbg's DevbgTaskInfo objects as devbgd's aa{sv}, which the table
 * and the JSON output print as they are. */
static void
add_tasks (GVariantBuilder *b, GPtrArray *tasks, guint max)
{
  for (guint i = 0; i < tasks->len && i < max; i++)
    g_variant_builder_add_value (b, devbg_task_info_get_properties (g_ptr_array_index (tasks, i)));
}

static const char *
lookup_str (GVariant *dict, const char *key)
{
  const char *value = "";
  g_variant_lookup (dict, key, "&s", &value);
  return value;
}

static char *
format_time (gint64 us)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  return t != NULL ? g_date_time_format (t, "%Y-%m-%d %H:%M:%S") : g_strdup ("?");
}

#define BAR_WIDTH 20

/* A bar where progress reads as a percentage (the samples' convention);
 * other apps report other units, shown as the bare number. */
static char *
format_progress (guint32 progress)
{
  GString *s;

  if (progress > 100)
    return g_strdup_printf ("%u", progress);
  s = g_string_new ("[");
  for (guint i = 0; i < BAR_WIDTH; i++)
    g_string_append_c (s, i < progress * BAR_WIDTH / 100 ? '#' : '-');
  g_string_append_printf (s, "] %3u%%", progress);
  return g_string_free (s, FALSE);
}

static GVariant *
list_tasks (Devbgctl *ctl)
{
  g_autoptr(GError) error = NULL;
  DevbgClient *client = devbgctl_client (ctl);
  g_autoptr(GPtrArray) tasks = NULL;
  GVariantBuilder b;

  if (client == NULL)
    return NULL;
  tasks = devbg_client_list_tasks_sync (client, NULL, &error);
  if (tasks == NULL)
    {
      devbgctl_fail ("tasks", error);
      return NULL;
    }
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  add_tasks (&b, tasks, G_MAXUINT);
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static void
print_table (GVariant *list)
{
  GVariantIter iter;
  GVariant *task;

  if (g_variant_n_children (list) == 0)
    {
      g_print ("no running tasks\n");
      return;
    }
  g_print ("%-36s  %-9s  %-9s  %-27s  %-24s  %s\n", "INSTANCE ID", "STATE", "TRIGGER",
           "PROGRESS", "APP", "DEVICE");
  g_variant_iter_init (&iter, list);
  while ((task = g_variant_iter_next_value (&iter)) != NULL)
    {
      guint32 progress = 0;
      g_autofree char *bar = NULL;

      g_variant_lookup (task, "progress", "u", &progress);
      bar = format_progress (progress);
      g_print ("%-36s  %-9s  %-9s  %-27s  %-24s  %s\n", lookup_str (task, "instance-id"),
               lookup_str (task, "state"), lookup_str (task, "trigger"), bar,
               lookup_str (task, "app-id"), lookup_str (task, "device-id"));
      g_variant_unref (task);
    }
}

/* --watch follows devbgd's task events (devbg_client_watch_tasks): on a
 * terminal the table is redrawn at each; otherwise one line per change,
 * and one when a task ends. Ctrl-C (or SIGTERM) ends it. */
typedef struct {
  GMainLoop  *loop;
  GHashTable *running;  /* instance ID -> DevbgTaskInfo */
  GHashTable *printed;  /* instance ID -> the last line printed for it */
  gboolean    tty;
} TaskWatch;

static gint
by_start (gconstpointer a, gconstpointer b)
{
  gint64 x = devbg_task_info_get_started_us (*(DevbgTaskInfo **) a);
  gint64 y = devbg_task_info_get_started_us (*(DevbgTaskInfo **) b);

  return x < y ? -1 : x > y;
}

static void
watch_redraw (TaskWatch *w)
{
  g_autoptr(GPtrArray) tasks = g_ptr_array_new ();
  g_autoptr(GVariant) list = NULL;
  GHashTableIter iter;
  gpointer value;
  GVariantBuilder b;

  g_hash_table_iter_init (&iter, w->running);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (tasks, value);
  g_ptr_array_sort (tasks, by_start);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  add_tasks (&b, tasks, G_MAXUINT);
  list = g_variant_ref_sink (g_variant_builder_end (&b));
  fputs ("\033[H\033[J", stdout); /* ours: past the print handler's escaping */
  print_table (list);
  fflush (stdout);
}

static void
on_watch_changed (DevbgClient *client, DevbgTaskInfo *task, TaskWatch *w)
{
  const char *id = devbg_task_info_get_instance_id (task);

  g_hash_table_insert (w->running, g_strdup (id), g_object_ref (task));
  if (w->tty)
    watch_redraw (w);
  else
    {
      g_autofree char *bar = format_progress (devbg_task_info_get_progress (task));
      g_autofree char *line = g_strdup_printf ("%s  %-9s  %s", id, devbg_task_info_get_state (task),
                                               bar);

      if (g_strcmp0 (g_hash_table_lookup (w->printed, id), line) != 0)
        {
          g_print ("%s\n", line);
          fflush (stdout);
          g_hash_table_insert (w->printed, g_strdup (id), g_steal_pointer (&line));
        }
    }
}

static void
on_watch_ended (DevbgClient *client, DevbgTaskInfo *task, TaskWatch *w)
{
  const char *id = devbg_task_info_get_instance_id (task);

  g_hash_table_remove (w->running, id);
  g_hash_table_remove (w->printed, id);
  if (w->tty)
    watch_redraw (w);
  else
    {
      g_print ("%s  ended\n", id);
      fflush (stdout);
    }
}

static gboolean
on_watch_quit (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

static int
watch_tasks (Devbgctl *ctl)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tasks = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GHashTable) running = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                         g_object_unref);
  g_autoptr(GHashTable) printed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  TaskWatch w = { loop, running, printed, isatty (STDOUT_FILENO) };
  DevbgClient *client = devbgctl_client (ctl);
  guint sources[2];

  if (client == NULL)
    return 1;
  /* Connected first, then watched: no event falls in between. */
  g_signal_connect (client, "task-changed", G_CALLBACK (on_watch_changed), &w);
  g_signal_connect (client, "task-ended", G_CALLBACK (on_watch_ended), &w);
  tasks = devbg_client_watch_tasks_sync (client, NULL, &error);
  if (tasks == NULL)
    {
      g_signal_handlers_disconnect_by_data (client, &w);
      return devbgctl_fail ("tasks", error);
    }
  for (guint i = 0; i < tasks->len; i++)
    on_watch_changed (client, g_ptr_array_index (tasks, i), &w);
  if (w.tty && tasks->len == 0)
    watch_redraw (&w);
  sources[0] = g_unix_signal_add (SIGINT, on_watch_quit, loop);
  sources[1] = g_unix_signal_add (SIGTERM, on_watch_quit, loop);
  g_main_loop_run (loop);
  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    g_source_remove (sources[i]);
  g_signal_handlers_disconnect_by_data (client, &w);
  return 0;
}

int
devbgctl_cmd_tasks (Devbgctl *ctl, int argc, char **argv)
{
  g_autoptr(GVariant) list = NULL;

  if (argc == 2 && strcmp (argv[1], "--watch") == 0 && !ctl->json)
    return watch_tasks (ctl);
  if (argc > 1)
    {
      g_printerr ("devbgctl tasks: takes only --watch (without --json)\n");
      return 2;
    }
  list = list_tasks (ctl);
  if (list == NULL)
    return 1;
  if (ctl->json)
    devbgctl_print_variant_json (list);
  else
    print_table (list);
  return 0;
}

/* The newest @want entries: devbgd answers a page at a time. */
static GVariant *
fetch_history (Devbgctl *ctl, guint want, GError **error)
{
  g_autofree char *continuation = g_strdup ("");
  DevbgClient *client = devbgctl_client (ctl);
  GVariantBuilder b;
  guint n = 0;

  if (client == NULL)
    return NULL;
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  do
    {
      g_autofree char *next = NULL;
      g_autoptr(GPtrArray) page =
        devbg_client_get_history_sync (client, MIN (want - n, DEVBG_HISTORY_PAGE_MAX_ENTRIES),
                                       continuation, &next, NULL, error);

      if (page == NULL)
        {
          g_variant_builder_clear (&b);
          return NULL;
        }
      add_tasks (&b, page, want - n);
      n += MIN (page->len, want - n);
      g_free (continuation);
      continuation = g_steal_pointer (&next);
    }
  while (n < want && *continuation != '\0');
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

int
devbgctl_cmd_history (Devbgctl *ctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) list = NULL;
  guint64 limit = 0;
  GVariantIter iter;
  GVariant *entry;

  if (argc > 2 || (argc == 2 && !g_ascii_string_to_unsigned (argv[1], 10, 1, 10000, &limit, NULL)))
    {
      g_printerr ("devbgctl history: takes one optional count from 1 to 10000\n");
      return 2;
    }
  list = fetch_history (ctl, limit == 0 ? 100 : (guint) limit, &error);
  if (list == NULL)
    return error ? devbgctl_fail ("history", error) : 1;
  if (ctl->json)
    {
      devbgctl_print_variant_json (list);
      return 0;
    }
  if (g_variant_n_children (list) == 0)
    {
      g_print ("no finished tasks\n");
      return 0;
    }
  g_variant_iter_init (&iter, list);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      gboolean success = FALSE;
      gint64 finished = 0;
      g_autofree char *when = NULL;

      g_variant_lookup (entry, "success", "b", &success);
      g_variant_lookup (entry, "finished-us", "x", &finished);
      when = format_time (finished);
      g_print ("%s  %s  %-24s %-9s %s  %s%s%s\n", when, lookup_str (entry, "instance-id"),
               lookup_str (entry, "app-id"), lookup_str (entry, "trigger"),
               lookup_str (entry, "device-id"), success ? "ok" : "failed",
               success ? "" : ": ", success ? "" : lookup_str (entry, "error"));
      g_variant_unref (entry);
    }
  return 0;
}

int
devbgctl_cmd_cancel (Devbgctl *ctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  DevbgClient *client;

  if (argc != 2)
    {
      g_printerr ("devbgctl cancel: needs one instance ID (see devbgctl tasks)\n");
      return 2;
    }
  if (!g_uuid_string_is_valid (argv[1]))
    {
      g_printerr ("devbgctl cancel: instance ID '%s' is not a UUID (see devbgctl tasks)\n",
                  argv[1]);
      return 2;
    }
  if ((client = devbgctl_client (ctl)) == NULL)
    return 1;
  if (!devbg_client_cancel_sync (client, argv[1], NULL, &error))
    return devbgctl_fail ("cancel", error);
  if (!ctl->json)
    g_print ("canceled %s\n", argv[1]);
  return 0;
}
