/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A small app for the integration tests: calls devbgd through libdevbg (or
 * raw, with any arguments) and prints the outcome on one line. Tests copy
 * it to several paths so that each copy is a different app by executable.
 *
 *   register NAME ENTRY_POINT use|servicing   -> "OK <task-id>"
 *   list                                      -> "OK <n>" then one line each
 *   unregister TASK_ID [cancel]               -> "OK"
 *   status                                    -> "OK" then key=value lines
 *   call METHOD 'GVARIANT-TEXT'               -> "OK <reply>"
 *   call-devices METHOD 'GVARIANT-TEXT'       -> the same on org.devbg.Devbg1.Devices
 *   send-and-exit METHOD 'GVARIANT-TEXT'
 *       GetStatus (so that devbgd has identified this process), "READY",
 *       then after a line on stdin sends METHOD of the Manager without
 *       waiting for its reply, flushes the connection and exits 0: the
 *       last message of an app that quits (its reply, if any, unread)
 *   repeat N METHOD 'GVARIANT-TEXT' [BIG]     -> "OK <n-replies> <n-errors>"
 *       the same call N times on one connection; with BIG, each "@BIG@" in
 *       the text becomes BIG bytes of 'x' first (beyond argv's limits);
 *       METHOD "Devices.M" calls M of the Devices interface, any other the
 *       Manager's
 *   run TASK_ID DEVICE ARGS DURATION [detach] [exit-after-start] [ack]
 *       WatchEvents, Request, then the events of that instance until it
 *       completes (or exits right after "RESULT" with exit-after-start):
 *         PENDING <event-id> <task-id> <instance-id> <0|1> <cancel-reason|-> <error>
 *         RESULT <code> <reason> <instance-id|->
 *         DETAIL <Request's detail, when not empty>
 *         PROGRESS <instance-id> <n>
 *         COMPLETED <event-id> <instance-id> <0|1> <cancel-reason|-> <error>
 *       with ack, every completion seen is acknowledged.
 *   watch SECONDS [ack]
 *       WatchEvents and print the events (as above) for SECONDS
 *       ("WATCHING" on stderr once WatchEvents answered).
 *   run-many TASK_ID DEVICE COUNT SECONDS
 *       COUNT requests one after the other (at most SECONDS in all), each
 *       waited for until its Completed signal and acknowledged; then
 *         MANY <runs> <succeeded> <failed> <timed-out>
 *       after one "FAILED <instance-id> <cancel-reason|-> <error>" line per
 *       failed run (the first 20).
 *   history LIMIT                             -> "OK <pages> <entries>" then
 *       through libdevbg, every page of History asked with LIMIT:
 *         PAGE <entries> <next-continuation|->
 *       then one line per entry, newest first:
 *         <instance-id> <app-id> <uid> <finished-us> <0|1> <cancel-reason|-> <error|->
 *   history-pages LIMIT                       -> "OK <pages>" then, per raw
 *       History page (decoded by libdevbg's codec):
 *         PAGE <bytes> <records> <next-continuation|->
 *   events-pages [ACK-ID...]                  -> "OK <pages>" then, per raw
 *       page of WatchEvents and then ListEvents (decoded by libdevbg's
 *       codec; nothing acknowledged but the ACK-IDs, with one
 *       AcknowledgeEvents after the first page, 200 ms after it came, on
 *       the same connection):
 *         PAGE <bytes> <records> <next-continuation|->
 *       and after each PAGE line its events, oldest first:
 *         EVENT <event-id> <task-id> <instance-id> <0|1> <finished-us>
 *               <cancel-reason|-> <error>
 *   lib-events SECONDS
 *       through libdevbg: the app's registrations with a "completed" handler
 *       each, for SECONDS; prints, per completion delivered,
 *         LIBCOMPLETED <task-id> <instance-id> <ok|error: <message>>
 *       (libdevbg acknowledges what it delivered).
 *   lib-request TASK_ID DEVICE
 *       through libdevbg (devbg_trigger_request_finish_full): a use request;
 *       "RESULT <code> <reason> <instance-id|->" and "DETAIL <detail>"
 *   devices                                   -> "OK <n>" then one device ID a line
 *       (through libdevbg: the devices this app may see)
 *   watch-devices SECONDS
 *       through libdevbg: "READY", then per device-added / device-changed
 *       signal delivered, "ADDED <id>" / "CHANGED <id>", for SECONDS.
 * Failures print "ERROR <D-Bus error name> <message>" and exit 1.
 */
#include <stdio.h>
#include <string.h>

#include "devbg-records.h"
#include "devbg.h"

static int
fail (GError *error)
{
  const char *name = NULL;
  g_autofree char *remote = NULL;

  if (error->domain == DEVBG_ERROR)
    name = devbg_error_dbus_name (error->code);
  else if ((remote = g_dbus_error_get_remote_error (error)) != NULL)
    name = remote;
  else
    name = g_quark_to_string (error->domain);
  g_dbus_error_strip_remote_error (error);
  printf ("ERROR %s %s\n", name, error->message);
  return 1;
}

typedef struct {
  GMainLoop  *loop;
  char       *instance_id;   /* the one we wait for, once known */
  gboolean    ack;
  gboolean    done;
  GPtrArray  *acks;
} RunState;

static GVariant *
manager_call (GDBusConnection *c, const char *method, GVariant *params, GError **error)
{
  return g_dbus_connection_call_sync (c, DEVBG_DBUS_SERVICE, DEVBG_DBUS_PATH,
                                      DEVBG_DBUS_MANAGER_INTERFACE, method, params, NULL,
                                      G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
}

static void
print_completion (const char *tag, const char *event_id, const char *task_id, const char *instance_id,
                  gboolean success, const char *error, const char *cancel_reason)
{
  if (task_id != NULL)
    printf ("%s %s %s %s %d %s %s\n", tag, event_id, task_id, instance_id, success ? 1 : 0,
            *cancel_reason ? cancel_reason : "-", error);
  else
    printf ("%s %s %s %d %s %s\n", tag, event_id, instance_id, success ? 1 : 0,
            *cancel_reason ? cancel_reason : "-", error);
  fflush (stdout);
}

static void
on_signal (GDBusConnection *c, const char *sender, const char *path, const char *iface,
           const char *signal, GVariant *params, gpointer user_data)
{
  RunState *st = user_data;

  (void) c; (void) sender; (void) path; (void) iface;
  if (strcmp (signal, "Progress") == 0)
    {
      const char *task_id, *instance_id;
      guint32 progress;
      g_variant_get (params, "(&s&su)", &task_id, &instance_id, &progress);
      printf ("PROGRESS %s %u\n", instance_id, progress);
      fflush (stdout);
    }
  else if (strcmp (signal, "Completed") == 0)
    {
      const char *event_id, *task_id, *instance_id, *error, *reason;
      gboolean success;
      gint64 finished;
      g_variant_get (params, "(&s&s&sb&s&sx)", &event_id, &task_id, &instance_id, &success,
                     &error, &reason, &finished);
      print_completion ("COMPLETED", event_id, NULL, instance_id, success, error, reason);
      g_ptr_array_add (st->acks, g_strdup (event_id));
      if (st->instance_id != NULL && strcmp (st->instance_id, instance_id) == 0)
        {
          st->done = TRUE;
          g_main_loop_quit (st->loop);
        }
    }
}

static gboolean
on_timeout (gpointer user_data)
{
  g_main_loop_quit (((RunState *) user_data)->loop);
  return G_SOURCE_REMOVE;
}

static int
watch_and_maybe_run (GDBusConnection *c, int argc, char **argv, gboolean run)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pending = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GPtrArray) acks = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *waited_instance = NULL;
  RunState st = { .loop = loop, .acks = acks };
  gboolean detach = FALSE, exit_after_start = FALSE;
  int first_flag = run ? 6 : 3;
  int rc = 0;

  for (int i = first_flag; i < argc; i++)
    {
      detach |= strcmp (argv[i], "detach") == 0;
      exit_after_start |= strcmp (argv[i], "exit-after-start") == 0;
      st.ack |= strcmp (argv[i], "ack") == 0;
    }
  g_dbus_connection_signal_subscribe (c, DEVBG_DBUS_SERVICE, DEVBG_DBUS_MANAGER_INTERFACE, NULL,
                                      DEVBG_DBUS_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                      on_signal, &st, NULL);
  pending = manager_call (c, "WatchEvents", NULL, &error);
  /* Pending events come a page at a time, packed (decoded by libdevbg's
   * codec). */
  while (pending != NULL)
    {
      g_autoptr(GVariant) packed = NULL;
      g_autoptr(GPtrArray) fields = NULL;
      const char *next;

      g_variant_get (pending, "(@ay&s)", &packed, &next);
      fields = devbg_records_parse_variant (packed, DEVBG_EVENT_FIELDS, NULL, &error);
      if (fields == NULL)
        return fail (error);
      for (guint i = 0; i < fields->len; i += DEVBG_EVENT_FIELDS)
        {
          DevbgEventEntry e;

          if (!devbg_records_decode_event ((const char *const *) &fields->pdata[i],
                                           i / DEVBG_EVENT_FIELDS, &e, &error))
            return fail (error);
          print_completion ("PENDING", e.event_id, e.task_id, e.instance_id, e.success, e.error,
                            e.cancel_reason);
          g_ptr_array_add (st.acks, g_strdup (e.event_id));
        }
      if (*next == '\0')
        break;
      {
        g_autoptr(GVariant) page = manager_call (c, "ListEvents", g_variant_new ("(s)", next),
                                                 &error);
        g_variant_unref (pending);
        pending = g_steal_pointer (&page);
      }
    }
  if (pending == NULL)
    return fail (error);
  if (!run)
    {
      /* On stderr: stdout is the events alone. */
      fprintf (stderr, "WATCHING\n");
      fflush (stderr);
    }

  if (run)
    {
      g_autoptr(GVariant) reply = NULL;
      guint32 code;
      const char *why, *id, *detail;

      reply = manager_call (c, "Request",
                            g_variant_new ("(sssu)", argv[2], argv[3], argv[4],
                                           (guint32) g_ascii_strtoull (argv[5], NULL, 10)),
                            &error);
      if (reply == NULL)
        return fail (error);
      g_variant_get (reply, "(u&s&s&s)", &code, &why, &id, &detail);
      printf ("RESULT %u %s %s\n", code, why, *id ? id : "-");
      if (*detail != '\0')
        printf ("DETAIL %s\n", detail);
      fflush (stdout);
      if (code != 0)
        return 0;
      st.instance_id = waited_instance = g_strdup (id);
      if (detach)
        {
          g_autoptr(GVariant) r = manager_call (c, "Detach", g_variant_new ("(s)", id), &error);
          if (r == NULL)
            return fail (error);
        }
      if (exit_after_start)
        return 0; /* the app goes away with its task running */
      g_timeout_add_seconds (120, on_timeout, &st);
    }
  else
    g_timeout_add ((guint) (g_ascii_strtod (argv[2], NULL) * 1000), on_timeout, &st);

  if (!(run && st.done))
    g_main_loop_run (st.loop);
  if (run && !st.done)
    {
      printf ("TIMEOUT\n");
      rc = 1;
    }
  if (st.ack && st.acks->len > 0)
    {
      g_autoptr(GVariant) r = NULL;
      g_ptr_array_add (st.acks, NULL);
      r = manager_call (c, "AcknowledgeEvents",
                        g_variant_new ("(^as)", (char **) st.acks->pdata), &error);
      if (r == NULL)
        return fail (error);
      printf ("ACKED %u\n", st.acks->len - 1);
      fflush (stdout);
    }
  return rc;
}

/* ---- run-many: the lost-completion stress test */

typedef struct {
  GMainLoop  *loop;
  GHashTable *done;     /* instance ID -> "1" or "0 <reason> <error>" */
  GPtrArray  *acks;
  const char *waiting;  /* the instance whose Completed ends the loop */
} ManyState;

static void
on_many_signal (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                const char *signal, GVariant *params, gpointer user_data)
{
  ManyState *st = user_data;
  const char *event_id, *task_id, *instance_id, *error, *reason;
  gboolean success;
  gint64 finished;

  (void) c; (void) sender; (void) path; (void) iface;
  if (strcmp (signal, "Completed") != 0)
    return;
  g_variant_get (params, "(&s&s&sb&s&sx)", &event_id, &task_id, &instance_id, &success,
                 &error, &reason, &finished);
  g_hash_table_insert (st->done, g_strdup (instance_id),
                       success ? g_strdup ("1")
                               : g_strdup_printf ("0 %s %s", *reason ? reason : "-", error));
  g_ptr_array_add (st->acks, g_strdup (event_id));
  if (st->waiting != NULL && strcmp (st->waiting, instance_id) == 0)
    g_main_loop_quit (st->loop);
}

static gboolean
on_many_timeout (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

/* Acknowledges what was seen so far, so the stored events stay few. */
static gboolean
ack_all (GDBusConnection *c, GPtrArray *acks, GError **error)
{
  g_autoptr(GVariant) r = NULL;

  if (acks->len == 0)
    return TRUE;
  g_ptr_array_add (acks, NULL);
  r = manager_call (c, "AcknowledgeEvents", g_variant_new ("(^as)", (char **) acks->pdata), error);
  g_ptr_array_set_size (acks, 0);
  return r != NULL;
}

static int
run_many (GDBusConnection *c, const char *task_id, const char *device, guint count, double seconds)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GHashTable) done = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GPtrArray) acks = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GVariant) pending = NULL;
  ManyState st = { .loop = loop, .done = done, .acks = acks };
  gint64 deadline = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  guint runs = 0, ok = 0, failed = 0, timed_out = 0;

  g_dbus_connection_signal_subscribe (c, DEVBG_DBUS_SERVICE, DEVBG_DBUS_MANAGER_INTERFACE,
                                      "Completed", DEVBG_DBUS_PATH, NULL,
                                      G_DBUS_SIGNAL_FLAGS_NONE, on_many_signal, &st, NULL);
  pending = manager_call (c, "WatchEvents", NULL, &error);
  if (pending == NULL)
    return fail (error);
  for (; runs < count && g_get_monotonic_time () < deadline; runs++)
    {
      g_autoptr(GVariant) reply = NULL;
      g_autofree char *id = NULL;
      const char *why, *outcome;
      guint32 code;

      reply = manager_call (c, "Request", g_variant_new ("(sssu)", task_id, device, "", 0u), &error);
      if (reply == NULL)
        return fail (error);
      g_variant_get (reply, "(u&ss&s)", &code, &why, &id, NULL);
      if (code != 0)
        {
          printf ("REFUSED %u %s\n", code, why);
          failed++;
          continue;
        }
      if (!g_hash_table_contains (done, id))
        {
          guint timer = g_timeout_add_seconds (30, on_many_timeout, loop);
          st.waiting = id;
          g_main_loop_run (loop);
          st.waiting = NULL;
          if (g_hash_table_contains (done, id))
            g_source_remove (timer);
        }
      outcome = g_hash_table_lookup (done, id);
      if (outcome == NULL)
        {
          printf ("TIMEOUT %s\n", id);
          timed_out++;
          break;
        }
      if (outcome[0] == '1')
        ok++;
      else if (failed++ < 20)
        printf ("FAILED %s %s\n", id, outcome + 2);
      g_hash_table_remove (done, id);
      if (acks->len >= 64 && !ack_all (c, acks, &error))
        return fail (error);
    }
  if (!ack_all (c, acks, &error))
    return fail (error);
  printf ("MANY %u %u %u %u\n", runs, ok, failed, timed_out);
  return 0;
}

static void
on_lib_completed (DevbgRegistration *reg, DevbgCompletion *completion, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  (void) user_data;
  if (devbg_completion_check_result (completion, &error))
    printf ("LIBCOMPLETED %s %s ok\n", devbg_registration_get_task_id (reg),
            devbg_completion_get_instance_id (completion));
  else
    printf ("LIBCOMPLETED %s %s error: %s\n", devbg_registration_get_task_id (reg),
            devbg_completion_get_instance_id (completion), error->message);
  fflush (stdout);
}

static int
lib_events (DevbgClient *client, double seconds)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) tasks = devbg_client_get_all_tasks_sync (client, NULL, &error);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  GHashTableIter iter;
  gpointer value;

  if (tasks == NULL)
    return fail (error);
  g_hash_table_iter_init (&iter, tasks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_signal_connect (value, "completed", G_CALLBACK (on_lib_completed), NULL);
  {
    RunState st = { .loop = loop };
    g_timeout_add ((guint) (seconds * 1000), on_timeout, &st);
    g_main_loop_run (loop);
  }
  return 0;
}

typedef struct {
  GMainLoop *loop;
  int        rc;
} LibRequest;

static void
on_lib_request_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LibRequest *lr = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL, *id = NULL, *detail = NULL;
  DevbgTriggerResult code = devbg_trigger_request_finish_full (DEVBG_TRIGGER (source), result,
                                                               &reason, &id, &detail, &error);

  if (error != NULL)
    lr->rc = fail (error);
  else
    printf ("RESULT %d %s %s\nDETAIL %s\n", (int) code, reason, *id ? id : "-", detail);
  g_main_loop_quit (lr->loop);
}

static int
lib_request (DevbgClient *client, const char *task_id, const char *device)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) tasks = devbg_client_get_all_tasks_sync (client, NULL, &error);
  g_autoptr(DevbgTrigger) trigger = devbg_use_trigger_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  LibRequest lr = { .loop = loop };
  DevbgRegistration *reg;

  if (tasks == NULL)
    return fail (error);
  reg = g_hash_table_lookup (tasks, task_id);
  devbg_trigger_request_async (trigger, reg, device, NULL, 0, NULL, on_lib_request_done, &lr);
  g_main_loop_run (loop);
  return lr.rc;
}

static void
on_device_seen (DevbgClient *client, DevbgDeviceInfo *info, gpointer kind)
{
  printf ("%s %s\n", (const char *) kind, devbg_device_info_get_id (info));
  fflush (stdout);
}

static int
watch_devices (DevbgClient *client, double seconds)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  RunState st = { .loop = loop };

  g_signal_connect (client, "device-added", G_CALLBACK (on_device_seen), "ADDED");
  g_signal_connect (client, "device-changed", G_CALLBACK (on_device_seen), "CHANGED");
  printf ("READY\n");
  fflush (stdout);
  g_timeout_add ((guint) (seconds * 1000), on_timeout, &st);
  g_main_loop_run (loop);
  return 0;
}

/* History through libdevbg, every page (see "history" above). */
static int
print_history (DevbgClient *client, guint limit)
{
  g_autofree char *continuation = NULL;
  g_autoptr(GString) pages_text = g_string_new (NULL);
  g_autoptr(GString) entries = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  guint pages = 0, count = 0;

  do
    {
      g_autofree char *next = NULL;
      g_autoptr(GPtrArray) page = devbg_client_get_history_sync (client, limit, continuation,
                                                                &next, NULL, &error);

      if (page == NULL)
        return fail (error);
      for (guint i = 0; i < page->len; i++)
        {
          DevbgTaskInfo *t = g_ptr_array_index (page, i);
          const char *reason = devbg_task_info_get_cancel_reason (t);
          const char *message = devbg_task_info_get_error_message (t);

          g_string_append_printf (entries, "%s %s %u %" G_GINT64_FORMAT " %d %s %s\n",
                                  devbg_task_info_get_instance_id (t),
                                  devbg_task_info_get_app_id (t), devbg_task_info_get_uid (t),
                                  devbg_task_info_get_finished_us (t),
                                  devbg_task_info_get_success (t), *reason ? reason : "-",
                                  *message ? message : "-");
        }
      g_string_append_printf (pages_text, "PAGE %u %s\n", page->len, *next ? next : "-");
      count += page->len;
      pages++;
      g_free (continuation);
      continuation = g_steal_pointer (&next);
    }
  while (*continuation != '\0');
  printf ("OK %u %u\n%s%s", pages, count, pages_text->str, entries->str);
  return 0;
}

/* History as the bus carries it (see "history-pages" above). */
static int
print_history_pages (DevbgClient *client, guint32 limit)
{
  g_autofree char *continuation = g_strdup ("");
  g_autoptr(GString) lines = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  guint pages = 0;

  do
    {
      g_autoptr(GVariant) reply = manager_call (devbg_client_get_connection (client), "History",
                                                g_variant_new ("(us)", limit, continuation),
                                                &error);
      g_autoptr(GVariant) page = NULL;
      g_autoptr(GPtrArray) fields = NULL;
      gsize size;

      if (reply == NULL)
        return fail (error);
      page = g_variant_get_child_value (reply, 0);
      fields = devbg_records_parse_variant (page, DEVBG_HISTORY_FIELDS, &size, &error);
      if (fields == NULL)
        return fail (error);
      g_free (continuation);
      g_variant_get_child (reply, 1, "s", &continuation);
      g_string_append_printf (lines, "PAGE %zu %u %s\n", size, fields->len / DEVBG_HISTORY_FIELDS,
                              *continuation != '\0' ? continuation : "-");
      pages++;
    }
  while (*continuation != '\0');
  printf ("OK %u\n%s", pages, lines->str);
  return 0;
}

/* The pending events as the bus carries them (see "events-pages" above). */
static int
print_events_pages (DevbgClient *client, const char *const *ack_ids)
{
  g_autofree char *continuation = NULL;
  g_autoptr(GString) lines = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  guint pages = 0;

  do
    {
      g_autoptr(GVariant) reply = manager_call (devbg_client_get_connection (client),
                                                continuation == NULL ? "WatchEvents" : "ListEvents",
                                                continuation == NULL ? NULL
                                                  : g_variant_new ("(s)", continuation),
                                                &error);
      g_autoptr(GVariant) page = NULL;
      g_autoptr(GPtrArray) fields = NULL;
      gsize size;

      if (reply == NULL)
        return fail (error);
      page = g_variant_get_child_value (reply, 0);
      fields = devbg_records_parse_variant (page, DEVBG_EVENT_FIELDS, &size, &error);
      if (fields == NULL)
        return fail (error);
      g_free (continuation);
      g_variant_get_child (reply, 1, "s", &continuation);
      g_string_append_printf (lines, "PAGE %zu %u %s\n", size, fields->len / DEVBG_EVENT_FIELDS,
                              *continuation != '\0' ? continuation : "-");
      if (pages == 0 && ack_ids[0] != NULL)
        {
          g_autoptr(GVariant) acked = NULL;

          /* devbgd has had the time to pack the next page ahead. */
          g_usleep (200 * 1000);
          acked = manager_call (devbg_client_get_connection (client), "AcknowledgeEvents",
                                g_variant_new ("(^as)", ack_ids), &error);
          if (acked == NULL)
            return fail (error);
        }
      for (guint i = 0; i < fields->len; i += DEVBG_EVENT_FIELDS)
        {
          DevbgEventEntry e;

          if (!devbg_records_decode_event ((const char *const *) &fields->pdata[i],
                                           i / DEVBG_EVENT_FIELDS, &e, &error))
            return fail (error);
          g_string_append_printf (lines, "EVENT %s %s %s %d %" G_GINT64_FORMAT " %s %s\n",
                                  e.event_id, e.task_id, e.instance_id, e.success ? 1 : 0,
                                  e.finished_us, *e.cancel_reason ? e.cancel_reason : "-",
                                  e.error);
        }
      pages++;
    }
  while (*continuation != '\0');
  printf ("OK %u\n%s", pages, lines->str);
  return 0;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgClient) client = NULL;

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s COMMAND ...\n", argv[0]);
      return 2;
    }
  client = devbg_client_new_sync (NULL, &error);
  if (client == NULL)
    return fail (error);

  if (strcmp (argv[1], "register") == 0 && argc == 5)
    {
      g_autoptr(DevbgTaskBuilder) builder = devbg_task_builder_new ();
      g_autoptr(DevbgTrigger) trigger = strcmp (argv[4], "servicing") == 0
                                          ? devbg_servicing_trigger_new ()
                                          : devbg_use_trigger_new ();
      g_autoptr(DevbgRegistration) reg = NULL;

      devbg_task_builder_set_name (builder, argv[2]);
      devbg_task_builder_set_task_entry_point (builder, argv[3]);
      devbg_task_builder_set_trigger (builder, trigger);
      reg = devbg_task_builder_register_sync (builder, client, NULL, &error);
      if (reg == NULL)
        return fail (error);
      printf ("OK %s\n", devbg_registration_get_task_id (reg));
      return 0;
    }
  if (strcmp (argv[1], "list") == 0 && argc == 2)
    {
      g_autoptr(GHashTable) tasks = devbg_client_get_all_tasks_sync (client, NULL, &error);
      GHashTableIter iter;
      gpointer value;

      if (tasks == NULL)
        return fail (error);
      printf ("OK %u\n", g_hash_table_size (tasks));
      g_hash_table_iter_init (&iter, tasks);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        printf ("%s %s %s %s\n", devbg_registration_get_task_id (value),
                devbg_trigger_type_to_string (devbg_registration_get_trigger_type (value)),
                devbg_registration_get_entry_point (value), devbg_registration_get_name (value));
      return 0;
    }
  if (strcmp (argv[1], "unregister") == 0 && (argc == 3 || argc == 4))
    {
      g_autoptr(GHashTable) tasks = devbg_client_get_all_tasks_sync (client, NULL, &error);
      DevbgRegistration *reg;
      gboolean cancel = argc == 4 && strcmp (argv[3], "cancel") == 0;
      g_autoptr(GVariant) reply = NULL;

      if (tasks == NULL)
        return fail (error);
      reg = g_hash_table_lookup (tasks, argv[2]);
      if (reg != NULL)
        {
          if (!devbg_registration_unregister_sync (reg, cancel, NULL, &error))
            return fail (error);
          printf ("OK\n");
          return 0;
        }
      /* Not ours (or not at all): ask devbgd anyway, as a rogue app would. */
      reply = g_dbus_connection_call_sync (devbg_client_get_connection (client),
                                           DEVBG_DBUS_SERVICE, DEVBG_DBUS_PATH,
                                           DEVBG_DBUS_MANAGER_INTERFACE, "Unregister",
                                           g_variant_new ("(sb)", argv[2], cancel), NULL,
                                           G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
      if (reply == NULL)
        return fail (error);
      printf ("OK\n");
      return 0;
    }
  if (strcmp (argv[1], "status") == 0 && argc == 2)
    {
      g_autoptr(GVariant) status = devbg_client_get_status_sync (client, NULL, &error);
      GVariantIter iter;
      const char *key;
      GVariant *value;

      if (status == NULL)
        return fail (error);
      printf ("OK\n");
      g_variant_iter_init (&iter, status);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
        {
          g_autofree char *text = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
                                    ? g_variant_dup_string (value, NULL)
                                    : g_variant_print (value, FALSE);
          printf ("%s=%s\n", key, text);
          g_variant_unref (value);
        }
      return 0;
    }
  if ((strcmp (argv[1], "call") == 0 || strcmp (argv[1], "call-devices") == 0) && argc == 4)
    {
      g_autoptr(GVariant) params = g_variant_parse (NULL, argv[3], NULL, NULL, &error);
      g_autoptr(GVariant) reply = NULL;
      g_autofree char *text = NULL;

      if (params == NULL)
        return fail (error);
      reply = g_dbus_connection_call_sync (devbg_client_get_connection (client),
                                           DEVBG_DBUS_SERVICE, DEVBG_DBUS_PATH,
                                           strcmp (argv[1], "call") == 0
                                             ? DEVBG_DBUS_MANAGER_INTERFACE
                                             : DEVBG_DBUS_DEVICES_INTERFACE, argv[2],
                                           params /* parsed: not floating, still ours */,
                                           NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
      if (reply == NULL)
        return fail (error);
      text = g_variant_print (reply, FALSE);
      printf ("OK %s\n", text);
      return 0;
    }
  if (strcmp (argv[1], "send-and-exit") == 0 && argc == 4)
    {
      GDBusConnection *c = devbg_client_get_connection (client);
      g_autoptr(GVariant) params = g_variant_parse (NULL, argv[3], NULL, NULL, &error);
      g_autoptr(GVariant) status = NULL;
      g_autoptr(GDBusMessage) message = NULL;
      char line[16];

      if (params == NULL)
        return fail (error);
      status = manager_call (c, "GetStatus", NULL, &error);
      if (status == NULL)
        return fail (error);
      printf ("READY\n");
      fflush (stdout);
      if (fgets (line, sizeof line, stdin) == NULL)
        return 1;
      message = g_dbus_message_new_method_call (DEVBG_DBUS_SERVICE, DEVBG_DBUS_PATH,
                                                DEVBG_DBUS_MANAGER_INTERFACE, argv[2]);
      g_dbus_message_set_body (message, params);
      g_dbus_message_set_flags (message, G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED);
      if (!g_dbus_connection_send_message (c, message, G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL,
                                           &error) ||
          !g_dbus_connection_flush_sync (c, NULL, &error))
        return fail (error);
      return 0;
    }
  if (strcmp (argv[1], "list-pages") == 0 && argc == 2)
    {
      /* ListRegistrations page by page, as the bus carries them: one line
       * per page after "OK <pages>", "PAGE <bytes> <records> <continuation>", each page
       * decoded by libdevbg's codec. */
      g_autofree char *continuation = g_strdup ("");
      g_autoptr(GString) lines = g_string_new (NULL);
      guint pages = 0;

      do
        {
          g_autoptr(GVariant) reply = manager_call (devbg_client_get_connection (client),
                                                    "ListRegistrations",
                                                    g_variant_new ("(s)", continuation), &error);
          g_autoptr(GVariant) page = NULL;
          g_autoptr(GPtrArray) fields = NULL;
          gsize size;

          if (reply == NULL)
            return fail (error);
          page = g_variant_get_child_value (reply, 0);
          fields = devbg_records_parse_variant (page, DEVBG_REGISTRATION_FIELDS, &size, &error);
          if (fields == NULL)
            return fail (error);
          g_free (continuation);
          g_variant_get_child (reply, 1, "s", &continuation);
          g_string_append_printf (lines, "PAGE %zu %u %s\n", size,
                                  fields->len / DEVBG_REGISTRATION_FIELDS,
                                  *continuation != '\0' ? continuation : "-");
          pages++;
        }
      while (*continuation != '\0');
      printf ("OK %u\n%s", pages, lines->str);
      return 0;
    }
  if (strcmp (argv[1], "history") == 0 && argc == 3)
    return print_history (client, (guint) g_ascii_strtoull (argv[2], NULL, 10));
  if (strcmp (argv[1], "events-pages") == 0)
    return print_events_pages (client, (const char *const *) argv + 2);
  if (strcmp (argv[1], "history-pages") == 0 && argc == 3)
    return print_history_pages (client, (guint32) g_ascii_strtoull (argv[2], NULL, 10));
  if (strcmp (argv[1], "repeat") == 0 && (argc == 5 || argc == 6))
    {
      guint64 n = g_ascii_strtoull (argv[2], NULL, 10);
      g_autofree char *text = g_strdup (argv[4]);
      g_autoptr(GVariant) params = NULL;
      guint replies = 0, errors = 0;

      if (argc == 6)
        {
          g_autofree char *big = g_strnfill (g_ascii_strtoull (argv[5], NULL, 10), 'x');
          g_auto(GStrv) parts = g_strsplit (text, "@BIG@", -1);
          g_free (text);
          text = g_strjoinv (big, parts);
        }
      params = g_variant_parse (NULL, text, NULL, NULL, &error); /* not floating */
      if (params == NULL)
        return fail (error);
      for (guint64 i = 0; i < n; i++)
        {
          /* "Devices.M" is M of the Devices interface, anything else the Manager's. */
          gboolean devices = g_str_has_prefix (argv[3], "Devices.");
          g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
            devbg_client_get_connection (client), DEVBG_DBUS_SERVICE, DEVBG_DBUS_PATH,
            devices ? DEVBG_DBUS_DEVICES_INTERFACE : DEVBG_DBUS_MANAGER_INTERFACE,
            argv[3] + (devices ? strlen ("Devices.") : 0), params, NULL, G_DBUS_CALL_FLAGS_NONE,
            -1, NULL, &error);
          if (reply != NULL)
            replies++;
          else
            errors++;
          g_clear_error (&error);
        }
      printf ("OK %u %u\n", replies, errors);
      return 0;
    }
  if (strcmp (argv[1], "devices") == 0 && argc == 2)
    {
      g_autoptr(GPtrArray) devices = devbg_client_list_devices_sync (client, NULL, &error);

      if (devices == NULL)
        return fail (error);
      printf ("OK %u\n", devices->len);
      for (guint i = 0; i < devices->len; i++)
        printf ("%s\n", devbg_device_info_get_id (g_ptr_array_index (devices, i)));
      return 0;
    }
  if (strcmp (argv[1], "lib-request") == 0 && argc == 4)
    return lib_request (client, argv[2], argv[3]);
  if (strcmp (argv[1], "watch-devices") == 0 && argc == 3)
    return watch_devices (client, g_ascii_strtod (argv[2], NULL));
  if (strcmp (argv[1], "run") == 0 && argc >= 6)
    return watch_and_maybe_run (devbg_client_get_connection (client), argc, argv, TRUE);
  if (strcmp (argv[1], "run-many") == 0 && argc == 6)
    return run_many (devbg_client_get_connection (client), argv[2], argv[3],
                     (guint) g_ascii_strtoull (argv[4], NULL, 10), g_ascii_strtod (argv[5], NULL));
  if (strcmp (argv[1], "lib-events") == 0 && argc == 3)
    return lib_events (client, g_ascii_strtod (argv[2], NULL));
  if (strcmp (argv[1], "watch") == 0 && argc >= 3)
    return watch_and_maybe_run (devbg_client_get_connection (client), argc, argv, FALSE);
  fprintf (stderr, "%s: bad command\n", argv[0]);
  return 2;
}
