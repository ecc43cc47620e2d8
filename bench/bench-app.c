/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The app of the runtime benchmark (bench/bench_runtime.py), on raw GDBus
 * (the system bus: DBUS_SYSTEM_BUS_ADDRESS). It stays connected and takes
 * one command a line on stdin, answering one line on stdout, so that the
 * driver can interleave its samples with the floor's without a process
 * start in any timed section. devbgd knows it as an app by its executable
 * path, which the driver names in a manifest.
 *
 *   register NAME ENTRY_POINT        -> OK <task-id>         (use trigger)
 *   ping                             -> OK <ns>  org.freedesktop.DBus.Peer.Ping
 *                                       to org.devbg.Devbg1, round trip
 *   status                           -> OK <ns>  GetStatus, round trip
 *   latency TASK_ID DEVICE OUT       -> OK <ns>  from just before sending
 *       Request (arguments "out=OUT") to the task's entry point (the
 *       CLOCK_MONOTONIC the task wrote to OUT); waits for the instance's
 *       Completed signal first and acknowledges it
 *   progress TASK_ID DEVICE OUT COUNT
 *                                    -> OK <ns> <last-progress> <signals>
 *       Request (arguments "out=OUT count=COUNT"), then waits for its
 *       Completed: ns from the task's entry point to the Completed signal
 *       being dispatched here, the last Progress value seen for that
 *       instance, and how many Progress signals carried it
 *   register-many N ENTRY_POINT INFLIGHT
 *                                    -> OK <ns> <errors>
 *       N Register calls (use trigger), at most INFLIGHT at a time: the
 *       time from the first sent to the last answered
 *   list-all                         -> OK <ns> <registrations> <pages> <bytes>
 *       every page of ListRegistrations, one after another
 *   history-all                      -> OK <ns> <entries> <pages> <bytes> <raw-ns> <free-ns>
 *       every page of History through libdevbg (DevbgTaskInfo objects, as
 *       an app gets them, on the client's list channel), pages of
 *       DEVBG_HISTORY_PAGE_MAX_ENTRIES, kept until the last one is in;
 *       then, untimed there, the same pages raw on the bus for their bytes,
 *       the time of that raw pass decoded by libdevbg's codec without the
 *       objects, and the time of freeing the objects
 *   events-all                       -> OK <ns> <events> <pages> <bytes>
 *       the app's pending events as libdevbg reads them at its start:
 *       WatchEvents, then ListEvents until the last page, the next page
 *       asked for before a page is decoded by libdevbg's codec
 *   devices-all                      -> OK <ns> <devices> <pages> <bytes> <raw-ns>
 *       every device through libdevbg (devbg_client_list_devices_sync():
 *       every page of ListDevices, DevbgDeviceInfo objects, as an app gets
 *       them); then the same pages raw, undecoded, for their count, bytes
 *       and time (devbgd and the bus without libdevbg's decoding)
 *   permissions-all                  -> OK <ns> <permissions> <pages> <bytes>
 *       every page of ListPermissions through libdevbg (DevbgPermission
 *       objects, as an app gets them); then, untimed, the same pages raw
 *       for their bytes
 *   echo SIZE...                     -> OK <ns>
 *       one call of bench-echo's Page per SIZE, in turn (the bytes of a
 *       list's pages through the bus, and nothing else: its floor)
 *   tally MS                         -> OK <instances> <completed> <extra>
 *       after MS more ms of listening: instances requested since the last
 *       tally, how many got a Completed signal, and how many Completed
 *       signals came beyond one each; then starts a new tally
 *   quit
 * Failures answer "ERROR <what>" and the app goes on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>

#include "devbg.h"
#include "devbg-names.h"
#include "devbg-records.h"

#define BUS_NAME  "org.devbg.Devbg1"
#define OBJ_PATH  "/org/devbg/Devbg1"
#define MANAGER   "org.devbg.Devbg1.Manager"

typedef struct {
  GDBusConnection *conn;
  GHashTable      *completions; /* instance ID -> count of Completed signals */
  GHashTable      *events;      /* instance ID -> event ID (first one) */
  char            *current;     /* the instance waited for, or NULL */
  gint64           completed_ns; /* when current's Completed was dispatched */
  guint32          last_progress;
  guint64          progress_signals;
  gboolean         timed_out;
  /* The app's client for the lists, made at the first and kept, as an app
   * keeps its own: its list channel (OpenListChannel) is opened once. */
  DevbgClient     *client;
} App;

static DevbgClient *
app_client (App *app)
{
  if (app->client == NULL)
    app->client = devbg_client_new_for_connection (app->conn);
  return app->client;
}

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static void
on_signal (GDBusConnection *c, const char *sender, const char *path, const char *iface,
           const char *signal, GVariant *params, gpointer user_data)
{
  App *app = user_data;

  (void) c; (void) sender; (void) path; (void) iface;
  if (strcmp (signal, "Progress") == 0)
    {
      const char *task_id, *instance_id;
      guint32 progress;

      g_variant_get (params, "(&s&su)", &task_id, &instance_id, &progress);
      if (app->current != NULL && strcmp (instance_id, app->current) == 0)
        {
          app->last_progress = progress;
          app->progress_signals++;
        }
    }
  else if (strcmp (signal, "Completed") == 0)
    {
      const char *event_id, *task_id, *instance_id, *error, *reason;
      gboolean success;
      gint64 finished;
      gpointer n;

      g_variant_get (params, "(&s&s&sb&s&sx)", &event_id, &task_id, &instance_id, &success,
                     &error, &reason, &finished);
      if (app->current != NULL && strcmp (instance_id, app->current) == 0 &&
          app->completed_ns == 0)
        app->completed_ns = now_ns ();
      if (!success)
        g_printerr ("bench-app: instance %s failed: %s (%s)\n", instance_id, error, reason);
      /* Only the instances requested since the last tally count. */
      if (g_hash_table_lookup_extended (app->completions, instance_id, NULL, &n))
        g_hash_table_replace (app->completions, g_strdup (instance_id),
                              GUINT_TO_POINTER (GPOINTER_TO_UINT (n) + 1));
      if (!g_hash_table_contains (app->events, instance_id))
        g_hash_table_insert (app->events, g_strdup (instance_id), g_strdup (event_id));
    }
}

static gboolean
on_timeout (gpointer user_data)
{
  ((App *) user_data)->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the default main context until current's Completed arrived or
 * @timeout_ms passed. */
static gboolean
wait_completed (App *app, guint timeout_ms)
{
  guint timer;

  app->timed_out = FALSE;
  timer = g_timeout_add (timeout_ms, on_timeout, app);
  while (app->completed_ns == 0 && !app->timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!app->timed_out)
    g_source_remove (timer);
  return app->completed_ns != 0;
}

static GVariant *
manager_call (App *app, const char *method, GVariant *params, GError **error)
{
  return g_dbus_connection_call_sync (app->conn, BUS_NAME, OBJ_PATH, MANAGER, method, params,
                                      NULL, G_DBUS_CALL_FLAGS_NONE, 30000, NULL, error);
}

static void
acknowledge (App *app, const char *instance_id)
{
  const char *event_id = g_hash_table_lookup (app->events, instance_id);
  const char *ids[2] = { event_id, NULL };
  g_autoptr(GVariant) r = NULL;
  g_autoptr(GError) error = NULL;

  if (event_id == NULL)
    return;
  r = manager_call (app, "AcknowledgeEvents", g_variant_new ("(^as)", (char **) ids), &error);
  if (r == NULL)
    g_printerr ("bench-app: AcknowledgeEvents: %s\n", error->message);
}

static gboolean
read_stamp (const char *path, gint64 *out_ns)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  *out_ns = g_ascii_strtoll (text, NULL, 10);
  return *out_ns > 0;
}

/* Request, and wait for the instance to complete. Returns the ns just
 * before the call, or 0 after answering ERROR. */
static gint64
request (App *app, const char *task_id, const char *device, const char *out,
         const char *arguments, guint timeout_ms)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint32 code;
  const char *reason, *instance_id;
  gint64 t0;

  g_clear_pointer (&app->current, g_free);
  app->completed_ns = 0;
  app->last_progress = 0;
  app->progress_signals = 0;
  unlink (out);

  t0 = now_ns ();
  reply = manager_call (app, "Request", g_variant_new ("(sssu)", task_id, device, arguments, 0),
                        &error);
  if (reply == NULL)
    {
      printf ("ERROR Request: %s\n", error->message);
      return 0;
    }
  g_variant_get (reply, "(u&s&s&s)", &code, &reason, &instance_id, NULL);
  if (code != 0)
    {
      printf ("ERROR denied %u %s\n", code, reason);
      return 0;
    }
  /* Signals are dispatched from this thread's main context, which
   * g_dbus_connection_call_sync() does not run: this instance's Completed
   * cannot have been dispatched yet, even if it came before the reply. */
  app->current = g_strdup (instance_id);
  g_hash_table_insert (app->completions, g_strdup (instance_id), GUINT_TO_POINTER (0));
  if (!wait_completed (app, timeout_ms))
    {
      printf ("ERROR no Completed for %s within %u ms\n", instance_id, timeout_ms);
      return 0;
    }
  acknowledge (app, instance_id);
  return t0;
}

static void
cmd_latency (App *app, char **w)
{
  g_autofree char *args = g_strdup_printf ("out=%s", w[3]);
  gint64 t0 = request (app, w[1], w[2], w[3], args, 30000), entered;

  if (t0 == 0)
    return;
  if (!read_stamp (w[3], &entered))
    {
      printf ("ERROR the task wrote no time stamp to %s\n", w[3]);
      return;
    }
  printf ("OK %" G_GINT64_FORMAT "\n", entered - t0);
}

static void
cmd_progress (App *app, char **w)
{
  g_autofree char *args = g_strdup_printf ("out=%s count=%s", w[3], w[4]);
  gint64 t0 = request (app, w[1], w[2], w[3], args, 120000), entered;

  if (t0 == 0)
    return;
  if (!read_stamp (w[3], &entered))
    {
      printf ("ERROR the task wrote no time stamp to %s\n", w[3]);
      return;
    }
  printf ("OK %" G_GINT64_FORMAT " %u %" G_GUINT64_FORMAT "\n", app->completed_ns - entered,
          app->last_progress, app->progress_signals);
}

static void
cmd_round_trip (App *app, const char *iface, const char *method)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  gint64 t0, t1;

  t0 = now_ns ();
  reply = g_dbus_connection_call_sync (app->conn, BUS_NAME, OBJ_PATH, iface, method, NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
  t1 = now_ns ();
  if (reply == NULL)
    printf ("ERROR %s: %s\n", method, error->message);
  else
    printf ("OK %" G_GINT64_FORMAT "\n", t1 - t0);
}

typedef struct {
  App  *app;
  guint left;     /* not yet sent */
  guint inflight;
  guint errors;
  const char *entry_point;
} Batch;

static void batch_send (Batch *batch);

static void
on_register_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Batch *batch = user_data;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             NULL);

  if (reply == NULL)
    batch->errors++;
  batch->inflight--;
  if (batch->left > 0)
    batch_send (batch);
}

static void
batch_send (Batch *batch)
{
  g_autofree char *name = g_strdup_printf ("r%u", batch->left);

  batch->left--;
  batch->inflight++;
  g_dbus_connection_call (batch->app->conn, BUS_NAME, OBJ_PATH, MANAGER, "Register",
                          g_variant_new ("(sss)", name, batch->entry_point, "use"),
                          G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL,
                          on_register_done, batch);
}

static void
cmd_register_many (App *app, char **w)
{
  Batch batch = { .app = app, .left = (guint) g_ascii_strtoull (w[1], NULL, 10),
                  .entry_point = w[2] };
  guint max_inflight = MAX (1, (guint) g_ascii_strtoull (w[3], NULL, 10));
  gint64 t0 = now_ns ();

  while (batch.left > 0 && batch.inflight < max_inflight)
    batch_send (&batch);
  while (batch.inflight > 0)
    g_main_context_iteration (NULL, TRUE);
  printf ("OK %" G_GINT64_FORMAT " %u\n", now_ns () - t0, batch.errors);
}

static void
cmd_list_all (App *app)
{
  g_autofree char *continuation = g_strdup ("");
  g_autoptr(GError) error = NULL;
  gint64 t0 = now_ns ();
  gsize count = 0, pages = 0, bytes = 0;

  do
    {
      g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync (app->conn, BUS_NAME, OBJ_PATH, MANAGER, "ListRegistrations",
                                     g_variant_new ("(s)", continuation),
                                     G_VARIANT_TYPE ("(ays)"), G_DBUS_CALL_FLAGS_NONE,
                                     30000, NULL, &error);
      g_autoptr(GVariant) page = NULL;
      g_autoptr(GPtrArray) fields = NULL;
      gsize size;

      if (reply == NULL)
        {
          printf ("ERROR ListRegistrations: %s\n", error->message);
          return;
        }
      /* Decoded as an app would (libdevbg's codec: every field checked). */
      page = g_variant_get_child_value (reply, 0);
      fields = devbg_records_parse_variant (page, DEVBG_REGISTRATION_FIELDS, &size, &error);
      if (fields == NULL)
        {
          printf ("ERROR ListRegistrations: %s\n", error->message);
          return;
        }
      count += fields->len / DEVBG_REGISTRATION_FIELDS;
      pages++;
      bytes += size;
      g_free (continuation);
      g_variant_get_child (reply, 1, "s", &continuation);
    }
  while (*continuation != '\0');
  printf ("OK %" G_GINT64_FORMAT " %zu %zu %zu\n", now_ns () - t0, count, pages, bytes);
}

/* The raw History pages, each decoded record by record as libdevbg does;
 * FALSE after printing the error. */
static gboolean
history_raw (App *app, gsize *bytes)
{
  g_autofree char *continuation = g_strdup ("");
  g_autoptr(GError) error = NULL;

  do
    {
      g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync (app->conn, BUS_NAME, OBJ_PATH, MANAGER, "History",
                                     g_variant_new ("(us)", DEVBG_HISTORY_PAGE_MAX_ENTRIES,
                                                    continuation),
                                     G_VARIANT_TYPE ("(ays)"), G_DBUS_CALL_FLAGS_NONE,
                                     30000, NULL, &error);
      g_autoptr(GVariant) page = NULL;
      g_autoptr(GPtrArray) fields = NULL;
      gsize size;

      if (reply == NULL)
        {
          printf ("ERROR History: %s\n", error->message);
          return FALSE;
        }
      page = g_variant_get_child_value (reply, 0);
      fields = devbg_records_parse_variant (page, DEVBG_HISTORY_FIELDS, &size, &error);
      for (guint i = 0; fields != NULL && i < fields->len; i += DEVBG_HISTORY_FIELDS)
        {
          DevbgHistoryRecord record;

          if (!devbg_records_decode_history ((const char *const *) &fields->pdata[i],
                                             i / DEVBG_HISTORY_FIELDS, &record,
                                             &error))
            g_clear_pointer (&fields, g_ptr_array_unref);
        }
      if (fields == NULL)
        {
          printf ("ERROR History: %s\n", error->message);
          return FALSE;
        }
      *bytes += size;
      g_free (continuation);
      g_variant_get_child (reply, 1, "s", &continuation);
    }
  while (*continuation != '\0');
  return TRUE;
}

static void
cmd_history_all (App *app)
{
  DevbgClient *client = app_client (app);
  g_autofree char *continuation = NULL;
  g_autoptr(GError) error = NULL;
  /* Kept until the list is timed, as an app keeps what it listed: freeing
   * ten thousand objects is timed on its own. */
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  gint64 t0 = now_ns (), ns, free_ns, raw_ns;
  gsize count = 0, bytes = 0;
  guint pages;

  do
    {
      g_autofree char *next = NULL;
      GPtrArray *tasks = devbg_client_get_history_sync (client, DEVBG_HISTORY_PAGE_MAX_ENTRIES,
                                                        continuation, &next, NULL, &error);

      if (tasks == NULL)
        {
          printf ("ERROR History: %s\n", error->message);
          return;
        }
      count += tasks->len;
      g_ptr_array_add (kept, tasks);
      g_free (continuation);
      continuation = g_steal_pointer (&next);
    }
  while (*continuation != '\0');
  ns = now_ns () - t0;
  pages = kept->len;
  t0 = now_ns ();
  g_ptr_array_set_size (kept, 0);
  free_ns = now_ns () - t0;
  t0 = now_ns ();
  if (!history_raw (app, &bytes))
    return;
  raw_ns = now_ns () - t0;
  printf ("OK %" G_GINT64_FORMAT " %zu %u %zu %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", ns,
          count, pages, bytes, raw_ns, free_ns);
}

static void
cmd_permissions_all (App *app)
{
  DevbgClient *client = app_client (app);
  g_autofree char *continuation = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  gint64 t0 = now_ns (), ns;
  gsize count = 0, bytes = 0;
  guint pages;

  do
    {
      g_autofree char *next = NULL;
      GPtrArray *permissions = devbg_client_list_permissions_sync (client, continuation, &next,
                                                                   NULL, &error);

      if (permissions == NULL)
        {
          printf ("ERROR ListPermissions: %s\n", error->message);
          return;
        }
      count += permissions->len;
      g_ptr_array_add (kept, permissions);
      g_free (continuation);
      continuation = g_steal_pointer (&next);
    }
  while (*continuation != '\0');
  ns = now_ns () - t0;
  pages = kept->len;
  g_free (continuation);
  continuation = g_strdup ("");
  do
    {
      g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync (app->conn, BUS_NAME, OBJ_PATH, MANAGER, "ListPermissions",
                                     g_variant_new ("(s)", continuation),
                                     G_VARIANT_TYPE ("(ays)"), G_DBUS_CALL_FLAGS_NONE, 30000,
                                     NULL, &error);
      g_autoptr(GVariant) page = NULL;

      if (reply == NULL)
        {
          printf ("ERROR ListPermissions: %s\n", error->message);
          return;
        }
      page = g_variant_get_child_value (reply, 0);
      bytes += g_variant_get_size (page);
      g_free (continuation);
      g_variant_get_child (reply, 1, "s", &continuation);
    }
  while (*continuation != '\0');
  printf ("OK %" G_GINT64_FORMAT " %zu %u %zu\n", ns, count, pages, bytes);
}

/* The pages of ListDevices, unread: how many, and their bytes. */
static gboolean
devices_raw (App *app, guint *pages, gsize *bytes)
{
  g_autofree char *continuation = g_strdup ("");
  g_autoptr(GError) error = NULL;

  *pages = 0;
  *bytes = 0;
  do
    {
      g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync (app->conn, BUS_NAME, OBJ_PATH, DEVBG_DBUS_DEVICES_INTERFACE,
                                     "ListDevices", g_variant_new ("(s)", continuation),
                                     G_VARIANT_TYPE ("(ays)"), G_DBUS_CALL_FLAGS_NONE,
                                     30000, NULL, &error);
      g_autoptr(GVariant) page = NULL;

      if (reply == NULL)
        {
          printf ("ERROR ListDevices: %s\n", error->message);
          return FALSE;
        }
      page = g_variant_get_child_value (reply, 0);
      *bytes += g_variant_get_size (page);
      (*pages)++;
      g_free (continuation);
      g_variant_get_child (reply, 1, "s", &continuation);
    }
  while (*continuation != '\0');
  return TRUE;
}

static void
cmd_devices_all (App *app)
{
  DevbgClient *client = app_client (app);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) devices = NULL;
  gint64 t0 = now_ns (), ns, raw_ns;
  gsize bytes;
  guint pages;

  devices = devbg_client_list_devices_sync (client, NULL, &error);
  ns = now_ns () - t0;
  if (devices == NULL)
    {
      printf ("ERROR ListDevices: %s\n", error->message);
      return;
    }
  t0 = now_ns ();
  if (!devices_raw (app, &pages, &bytes))
    return;
  raw_ns = now_ns () - t0;
  printf ("OK %" G_GINT64_FORMAT " %u %u %zu %" G_GINT64_FORMAT "\n", ns, devices->len, pages,
          bytes, raw_ns);
}

/* The app's pending events as an app reads them at its start, the way
 * libdevbg does: WatchEvents' first page, then ListEvents for the rest,
 * each page checked, the next one asked for, and then the page decoded by
 * libdevbg's codec (every event's fields, as libdevbg reads them). */
typedef struct {
  GDBusConnection *conn;
  GVariant        *reply;   /* the last page's, until taken */
  GError          *error;
  gboolean         waiting;
} EventsRead;

static void
on_events_page (GObject *source, GAsyncResult *result, gpointer data)
{
  EventsRead *read = data;

  read->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &read->error);
  read->waiting = FALSE;
}

static void
ask_events_page (EventsRead *read, const char *continuation)
{
  read->waiting = TRUE;
  g_dbus_connection_call (read->conn, BUS_NAME, OBJ_PATH, MANAGER,
                          continuation == NULL ? "WatchEvents" : "ListEvents",
                          continuation == NULL ? NULL : g_variant_new ("(s)", continuation),
                          G_VARIANT_TYPE ("(ays)"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL,
                          on_events_page, read);
}

static void
cmd_events_all (App *app)
{
  EventsRead read = { .conn = app->conn };
  gint64 t0 = now_ns ();
  gsize count = 0, pages = 0, bytes = 0;
  gboolean more = TRUE;

  ask_events_page (&read, NULL);
  while (more)
    {
      g_autoptr(GVariant) reply = NULL;
      g_autoptr(GVariant) page = NULL;
      g_autoptr(GPtrArray) fields = NULL;
      const char *continuation;
      gsize size = 0;

      while (read.waiting)
        g_main_context_iteration (NULL, TRUE);
      if (read.reply == NULL)
        {
          printf ("ERROR %s: %s\n", pages == 0 ? "WatchEvents" : "ListEvents",
                  read.error->message);
          g_clear_error (&read.error);
          return;
        }
      reply = g_steal_pointer (&read.reply);
      page = g_variant_get_child_value (reply, 0);
      fields = devbg_records_parse_variant (page, DEVBG_EVENT_FIELDS, &size, &read.error);
      if (fields == NULL)
        {
          printf ("ERROR events page: %s\n", read.error->message);
          g_clear_error (&read.error);
          return;
        }
      g_variant_get_child (reply, 1, "&s", &continuation);
      more = *continuation != '\0';
      if (more)
        ask_events_page (&read, continuation);
      for (guint i = 0; i < fields->len; i += DEVBG_EVENT_FIELDS)
        {
          DevbgEventEntry e;

          if (!devbg_records_decode_event ((const char *const *) &fields->pdata[i],
                                           i / DEVBG_EVENT_FIELDS, &e, &read.error))
            {
              printf ("ERROR events page: %s\n", read.error->message);
              g_clear_error (&read.error);
              /* The next page is in flight: its answer is dropped with it. */
              while (read.waiting)
                g_main_context_iteration (NULL, TRUE);
              g_clear_pointer (&read.reply, g_variant_unref);
              g_clear_error (&read.error);
              return;
            }
          count++;
        }
      pages++;
      bytes += size;
    }
  printf ("OK %" G_GINT64_FORMAT " %zu %zu %zu\n", now_ns () - t0, count, pages, bytes);
}

static void
cmd_echo (App *app, char **sizes)
{
  g_autoptr(GError) error = NULL;
  gint64 t0 = now_ns ();

  for (; *sizes != NULL; sizes++)
    {
      g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync (app->conn, "org.devbg.bench.Echo", "/org/devbg/bench/Echo",
                                     "org.devbg.bench.Echo", "Page",
                                     g_variant_new ("(u)", (guint32) g_ascii_strtoull (*sizes,
                                                                                      NULL, 10)),
                                     G_VARIANT_TYPE ("(ays)"), G_DBUS_CALL_FLAGS_NONE, 30000,
                                     NULL, &error);

      if (reply == NULL)
        {
          printf ("ERROR Page: %s\n", error->message);
          return;
        }
    }
  printf ("OK %" G_GINT64_FORMAT "\n", now_ns () - t0);
}

static void
cmd_tally (App *app, guint ms)
{
  GHashTableIter iter;
  gpointer value;
  guint instances = 0, completed = 0, extra = 0;

  app->timed_out = FALSE;
  g_timeout_add (ms, on_timeout, app);
  while (!app->timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_hash_table_iter_init (&iter, app->completions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      guint n = GPOINTER_TO_UINT (value);
      instances++;
      completed += n > 0;
      extra += n > 1 ? n - 1 : 0;
    }
  printf ("OK %u %u %u\n", instances, completed, extra);
  g_hash_table_remove_all (app->completions);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pending = NULL;
  App app = { 0 };
  char line[4096];

  (void) argc; (void) argv;
  app.conn = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (app.conn == NULL)
    {
      g_printerr ("bench-app: %s\n", error->message);
      return 1;
    }
  app.completions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  app.events = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_dbus_connection_signal_subscribe (app.conn, BUS_NAME, MANAGER, NULL, OBJ_PATH, NULL,
                                      G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &app, NULL);
  pending = manager_call (&app, "WatchEvents", NULL, &error);
  if (pending == NULL)
    {
      g_printerr ("bench-app: WatchEvents: %s\n", error->message);
      return 1;
    }
  printf ("READY\n");
  fflush (stdout);

  while (fgets (line, sizeof line, stdin) != NULL)
    {
      g_auto(GStrv) w = g_strsplit (g_strchomp (line), " ", -1);
      guint n = g_strv_length (w);

      if (n == 0)
        continue;
      if (strcmp (w[0], "quit") == 0)
        break;
      else if (strcmp (w[0], "register") == 0 && n == 3)
        {
          g_autoptr(GVariant) r = manager_call (&app, "Register",
                                                g_variant_new ("(sss)", w[1], w[2], "use"), &error);
          const char *id;
          if (r == NULL)
            {
              printf ("ERROR Register: %s\n", error->message);
              g_clear_error (&error);
            }
          else
            {
              g_variant_get (r, "(&s)", &id);
              printf ("OK %s\n", id);
            }
        }
      else if (strcmp (w[0], "ping") == 0 && n == 1)
        cmd_round_trip (&app, "org.freedesktop.DBus.Peer", "Ping");
      else if (strcmp (w[0], "status") == 0 && n == 1)
        cmd_round_trip (&app, MANAGER, "GetStatus");
      else if (strcmp (w[0], "latency") == 0 && n == 4)
        cmd_latency (&app, w);
      else if (strcmp (w[0], "progress") == 0 && n == 5)
        cmd_progress (&app, w);
      else if (strcmp (w[0], "register-many") == 0 && n == 4)
        cmd_register_many (&app, w);
      else if (strcmp (w[0], "history-all") == 0 && n == 1)
        cmd_history_all (&app);
      else if (strcmp (w[0], "events-all") == 0 && n == 1)
        cmd_events_all (&app);
      else if (strcmp (w[0], "devices-all") == 0 && n == 1)
        cmd_devices_all (&app);
      else if (strcmp (w[0], "permissions-all") == 0 && n == 1)
        cmd_permissions_all (&app);
      else if (strcmp (w[0], "list-all") == 0 && n == 1)
        cmd_list_all (&app);
      else if (strcmp (w[0], "echo") == 0 && n >= 2)
        cmd_echo (&app, w + 1);
      else if (strcmp (w[0], "tally") == 0 && n == 2)
        cmd_tally (&app, (guint) g_ascii_strtoull (w[1], NULL, 10));
      else
        printf ("ERROR bad command\n");
      fflush (stdout);
    }
  return 0;
}
