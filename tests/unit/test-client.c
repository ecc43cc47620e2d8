/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libdevbg's app side against a fake devbgd: a private bus (GTestDBus), a
 * thread that owns org.devbg.Devbg1 and answers WatchEvents, ListEvents,
 * AcknowledgeEvents, ListRegistrations, Request and Unregister from canned
 * data, and sends Progress and Completed signals when the test says so.
 * Covers the routing of events to registration objects, pending events
 * (packed pages: the fake's WatchEvents answers the page the test names,
 * ListEvents the page its continuation names, well formed or not),
 * duplicate suppression, acknowledgements, the sender check, requests,
 * the local argument checks, History's packed pages (the fake answers
 * the page its continuation names, well formed or not), and ListDevices'
 * pages (org.devbg.Devbg1.Devices: the set the test names, page by
 * continuation, well formed or not).
 */
#include <string.h>

#include <gio/gio.h>

#include "devbg-client.h"
#include "devbg-error.h"
#include "devbg-names.h"

#define BUS_NAME    "org.devbg.Devbg1"
#define OBJECT_PATH "/org/devbg/Devbg1"
#define IFACE       "org.devbg.Devbg1.Manager"
#define DEVICES_IFACE "org.devbg.Devbg1.Devices"

/* ---- the fake devbgd, in its own thread and main context */

typedef struct {
  char            *address;
  GThread         *thread;
  GMainContext    *context;
  GMainLoop       *loop;
  GDBusConnection *connection;
  GMutex           lock;
  GCond            cond;
  gboolean         ready;
  guint            watch_calls;   /* under lock */
  guint            list_calls;    /* ListEvents, under lock */
  guint            ack_calls;     /* AcknowledgeEvents taken, under lock */
  const char      *events_first;  /* WatchEvents' page (events_pages), under lock */
  GPtrArray       *acked;         /* event IDs, under lock */
  const char      *devices;       /* ListDevices' pages (devices_pages), under lock */
  guint            devices_calls; /* ListDevices, under lock */
} FakeDevbgd;

static FakeDevbgd fake;

static GVariant *
completion_tuple (const char *event_id, const char *task_id, const char *instance_id,
                  gboolean success, const char *error, const char *cancel_reason)
{
  return g_variant_new ("(sssbssx)", event_id, task_id, instance_id, success, error,
                        cancel_reason, (gint64) 1700000000000000);
}

/* Pages of pending events by name (WatchEvents answers fake.events_first,
 * ListEvents the page its continuation names): packed records of
 * DEVBG_EVENT_FIELDS (7) fields; each malformed one breaks one rule, after
 * a well-formed record that must not be delivered either. */
#define EV_GOOD(id) id "\0t-sync\0i-" id "\0" "1\0\0\0" "1700000000000000\0"
static const struct {
  const char *name;
  const char *page;
  gsize       size;
  const char *next;
} events_pages[] = {
#define PAGE(name, bytes, next) { name, bytes, sizeof bytes - 1, next }
  /* From an earlier run of the app: waits for a registration object. */
  PAGE ("pending", EV_GOOD ("ev1"), ""),
  /* Two pages, for two tasks, oldest first. */
  PAGE ("first", EV_GOOD ("ev-a") "ev-b\0t-update\0i-b\0" "0\0The dock refused\0abort\0"
        "-9223372036854775808\0", "second"),
  PAGE ("second", EV_GOOD ("ev-c"), ""),
  PAGE ("empty", "", ""),
  /* A good page, then a malformed one: the first is delivered. */
  PAGE ("lead", EV_GOOD ("ev-lead"), "bad-success"),
  PAGE ("bad-utf8", EV_GOOD ("ev-u") "e\0t\xff\0i\0" "1\0\0\0" "5\0", ""),
  PAGE ("bad-count", EV_GOOD ("ev-n") "e\0t\0i\0" "1\0\0\0", ""),
  PAGE ("bad-success", EV_GOOD ("ev-s") "e\0t\0i\0" "true\0\0\0" "5\0", ""),
  PAGE ("bad-finished", EV_GOOD ("ev-f") "e\0t\0i\0" "0\0\0\0" "+5\0", ""),
  PAGE ("bad-end", EV_GOOD ("ev-e") "e\0t", ""),
#undef PAGE
};

/* More events than one AcknowledgeEvents may carry, on one page. */
#define MANY_EVENTS (DEVBG_MAX_ACK_IDS * 2 + 10)
#define MANY_EVENTS_LAST 2057  /* MANY_EVENTS - 1, for the event ID */
G_STATIC_ASSERT (MANY_EVENTS_LAST == MANY_EVENTS - 1);

static void
add_field (GByteArray *page, const char *field)
{
  g_byte_array_append (page, (const guint8 *) field, (guint) strlen (field) + 1);
}

static GVariant *
many_events_page (void)
{
  g_autoptr(GByteArray) page = g_byte_array_new ();

  for (guint i = 0; i < MANY_EVENTS; i++)
    {
      g_autofree char *event_id = g_strdup_printf ("many-%u", i);
      g_autofree char *instance_id = g_strdup_printf ("i-many-%u", i);

      add_field (page, event_id);
      add_field (page, "t-sync");
      add_field (page, instance_id);
      add_field (page, "1");
      add_field (page, "");
      add_field (page, "");
      add_field (page, "1700000000000000");
    }
  return g_variant_new ("(@ays)", g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, page->data,
                                                             page->len, 1), "");
}

static GVariant *
events_page (const char *name)
{
  if (strcmp (name, "many") == 0)
    return many_events_page ();
  for (guint i = 0; i < G_N_ELEMENTS (events_pages); i++)
    if (strcmp (events_pages[i].name, name) == 0)
      return g_variant_new ("(@ays)",
                            g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, events_pages[i].page,
                                                       events_pages[i].size, 1),
                            events_pages[i].next);
  g_assert_not_reached ();
}

static GVariant *
handle_request (GVariant *params)
{
  const char *task_id, *device_id, *arguments;
  guint32 duration;

  g_variant_get (params, "(&s&s&su)", &task_id, &device_id, &arguments, &duration);
  if (strcmp (device_id, "absent") == 0)
    return g_variant_new ("(usss)", 2, "no-such-device", "", "");
  if (strcmp (arguments, "result=9") == 0)
    return g_variant_new ("(usss)", 9, "something-new", "", "");
  if (duration >= 30 * 60)
    return g_variant_new ("(usss)", 2, "estimate-too-long", "", "");
  return g_variant_new ("(usss)", 0, "allowed", "inst-1", "");
}

/* History pages by the continuation asked with: packed records of
 * DEVBG_HISTORY_FIELDS (13) fields; each malformed one breaks one rule. */
#define GOOD_1 "i-new\0t-sync\0org.example.App\0band-sync\0App.Sync\0use\0band0\0" \
               "1000\0" "1700000000000000\0" "1700000005000000\0" "1\0\0\0"
#define GOOD_2 "i-old\0t-up\0org.example.App\0dock-up\0App.Up\0servicing\0dock0\0" \
               "4294967295\0" "-5\0" "9223372036854775807\0" "0\0The dock said no\0abort\0"
static const struct {
  const char *name;
  const char *page;
  gsize       size;
  const char *next;
} history_pages[] = {
#define PAGE(name, bytes, next) { name, bytes, sizeof bytes - 1, next }
  PAGE ("good", GOOD_1 GOOD_2, "more"),
  PAGE ("empty", "", ""),
  PAGE ("bad-utf8", GOOD_1 "i\0t\0a\xff\0n\0e\0use\0d\0" "1\0" "2\0" "3\0" "1\0\0\0", ""),
  PAGE ("bad-count", GOOD_1 "i\0t\0a\0n\0e\0use\0d\0" "1\0" "2\0" "3\0" "1\0\0", ""),
  PAGE ("bad-uid", GOOD_1 "i\0t\0a\0n\0e\0use\0d\0" "4294967296\0" "2\0" "3\0" "1\0\0\0", ""),
  PAGE ("bad-started", "i\0t\0a\0n\0e\0use\0d\0" "1\0" "12x\0" "3\0" "1\0\0\0", ""),
  PAGE ("bad-finished", "i\0t\0a\0n\0e\0use\0d\0" "1\0" "2\0" "+3\0" "1\0\0\0", ""),
  PAGE ("bad-success", "i\0t\0a\0n\0e\0use\0d\0" "1\0" "2\0" "3\0" "true\0\0\0", ""),
  PAGE ("bad-trigger", "i\0t\0a\0n\0e\0deviceUse\0d\0" "1\0" "2\0" "3\0" "1\0\0\0", ""),
  PAGE ("bad-end", GOOD_1 "i", ""),
#undef PAGE
};

static GVariant *
handle_history (GVariant *params)
{
  const char *continuation;
  guint32 limit;

  g_variant_get (params, "(u&s)", &limit, &continuation);
  for (guint i = 0; i < G_N_ELEMENTS (history_pages); i++)
    if (strcmp (history_pages[i].name, continuation) == 0)
      return g_variant_new ("(@ays)",
                            g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, history_pages[i].page,
                                                       history_pages[i].size, 1),
                            history_pages[i].next);
  return NULL;
}

/* ListDevices pages by set (fake.devices) and continuation: the IDs of a
 * page's devices (comma-separated; each device's one property is its
 * name, its ID) and its next continuation. "good" is three pages; each
 * other set breaks one rule. */
static const struct {
  const char *set;
  const char *continuation;
  const char *ids;
  const char *next;
  gboolean    not_normal;  /* the page's last offset bumped */
} devices_pages[] = {
  { "good", "", "band-a,band-b", "band-b", FALSE },
  { "good", "band-b", "dock-c", "dock-c", FALSE },
  { "good", "dock-c", "watch-d", "", FALSE },
  { "not-normal", "", "band-a", "", TRUE },
  { "bad-next", "", "band-a,band-b", "band-a", FALSE },
  { "empty-more", "", "", "band-a", FALSE },
  { "backwards", "", "band-b", "band-b", FALSE },
  { "backwards", "band-b", "band-a", "", FALSE },
};

/* A page as devbgd sends it: the serialized a(sa{sv}), little-endian. */
static GVariant *
devices_page_bytes (const char *ids, gboolean not_normal)
{
  g_auto(GStrv) list = g_strsplit (ids, ",", -1);
  g_autoptr(GVariant) page = NULL;
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE (DEVBG_DEVICES_PAGE_TYPE));
  for (guint i = 0; list[i] != NULL && *list[i] != '\0'; i++)
    {
      GVariantBuilder props;

      g_variant_builder_init (&props, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&props, "{sv}", "name", g_variant_new_string (list[i]));
      g_variant_builder_add (&b, "(sa{sv})", list[i], &props);
    }
  page = g_variant_ref_sink (g_variant_builder_end (&b));
  if (G_BYTE_ORDER == G_BIG_ENDIAN)
    {
      GVariant *swapped = g_variant_byteswap (page);

      g_variant_unref (page);
      page = swapped;
    }
  g_byte_array_append (bytes, g_variant_get_data (page), (guint) g_variant_get_size (page));
  if (not_normal)
    bytes->data[bytes->len - 1]++;
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes->data, bytes->len, 1);
}

static GVariant *
handle_list_devices (GVariant *params)
{
  const char *continuation;
  const char *set;

  g_variant_get (params, "(&s)", &continuation);
  g_mutex_lock (&fake.lock);
  fake.devices_calls++;
  set = fake.devices;
  g_mutex_unlock (&fake.lock);
  for (guint i = 0; i < G_N_ELEMENTS (devices_pages); i++)
    if (strcmp (devices_pages[i].set, set) == 0 &&
        strcmp (devices_pages[i].continuation, continuation) == 0)
      return g_variant_new ("(@ays)", devices_page_bytes (devices_pages[i].ids,
                                                          devices_pages[i].not_normal),
                            devices_pages[i].next);
  g_error ("the fake has no ListDevices page of set %s after '%s'", set, continuation);
}

static void
fake_method_call (GDBusConnection *connection, const char *sender, const char *path,
                  const char *iface, const char *method, GVariant *params,
                  GDBusMethodInvocation *invocation, gpointer data)
{
  GVariant *reply;

  if (strcmp (method, "WatchEvents") == 0)
    {
      GVariant *page;

      g_mutex_lock (&fake.lock);
      fake.watch_calls++;
      page = events_page (fake.events_first);
      g_mutex_unlock (&fake.lock);
      g_dbus_method_invocation_return_value (invocation, page);
    }
  else if (strcmp (method, "ListEvents") == 0)
    {
      const char *continuation;

      g_variant_get (params, "(&s)", &continuation);
      g_mutex_lock (&fake.lock);
      fake.list_calls++;
      g_mutex_unlock (&fake.lock);
      g_dbus_method_invocation_return_value (invocation, events_page (continuation));
    }
  else if (strcmp (method, "AcknowledgeEvents") == 0)
    {
      g_autofree const char **ids = NULL;

      g_variant_get (params, "(^a&s)", &ids);
      /* As devbgd: more than DEVBG_MAX_ACK_IDS is refused, none taken. */
      if (g_strv_length ((char **) ids) > DEVBG_MAX_ACK_IDS)
        {
          g_dbus_method_invocation_return_dbus_error (invocation,
                                                      "org.devbg.Devbg1.Error.InvalidArgument",
                                                      "too many event IDs");
          return;
        }
      g_mutex_lock (&fake.lock);
      fake.ack_calls++;
      for (guint i = 0; ids[i] != NULL; i++)
        g_ptr_array_add (fake.acked, g_strdup (ids[i]));
      g_mutex_unlock (&fake.lock);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (strcmp (method, "ListRegistrations") == 0)
    {
      /* Packed records (devbg-records.h), as devbgd sends them. */
      static const char page[] = "t-sync\0band-sync\0ExampleApp.SyncBand\0use\0"
                                 "t-update\0dock-update\0ExampleApp.UpdateDockFirmware\0servicing";

      g_dbus_method_invocation_return_value (invocation,
        g_variant_new ("(@ays)", g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, page,
                                                            sizeof page, 1), ""));
    }
  else if (strcmp (method, "Request") == 0)
    g_dbus_method_invocation_return_value (invocation, handle_request (params));
  else if (strcmp (method, "History") == 0 && (reply = handle_history (params)) != NULL)
    g_dbus_method_invocation_return_value (invocation, reply);
  else if (strcmp (method, "ListDevices") == 0)
    g_dbus_method_invocation_return_value (invocation, handle_list_devices (params));
  else if (strcmp (method, "Unregister") == 0 || strcmp (method, "Cancel") == 0 ||
           strcmp (method, "Detach") == 0)
    g_dbus_method_invocation_return_value (invocation, NULL);
  else
    g_dbus_method_invocation_return_dbus_error (invocation, "org.freedesktop.DBus.Error.UnknownMethod",
                                                method);
}

static const GDBusInterfaceVTable fake_vtable = { fake_method_call, NULL, NULL, { 0 } };

static gpointer
fake_thread (gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;
  g_autoptr(GDBusNodeInfo) node = NULL;
  g_autofree char *devices_xml = NULL;
  g_autoptr(GDBusNodeInfo) devices_node = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_main_context_push_thread_default (fake.context);
  g_assert_true (g_file_get_contents (DEVBG_DBUS_XML, &xml, NULL, &error));
  node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  fake.connection = g_dbus_connection_new_for_address_sync (fake.address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_register_object (fake.connection, OBJECT_PATH,
                                     g_dbus_node_info_lookup_interface (node, IFACE),
                                     &fake_vtable, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (DEVBG_DBUS_DEVICES_XML, &devices_xml, NULL, &error));
  devices_node = g_dbus_node_info_new_for_xml (devices_xml, &error);
  g_assert_no_error (error);
  g_dbus_connection_register_object (fake.connection, OBJECT_PATH,
                                     g_dbus_node_info_lookup_interface (devices_node,
                                                                        DEVICES_IFACE),
                                     &fake_vtable, NULL, NULL, &error);
  g_assert_no_error (error);
  reply = g_dbus_connection_call_sync (fake.connection, "org.freedesktop.DBus",
                                       "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "RequestName", g_variant_new ("(su)", BUS_NAME, 4),
                                       G_VARIANT_TYPE ("(u)"), 0, -1, NULL, &error);
  g_assert_no_error (error);

  g_mutex_lock (&fake.lock);
  fake.ready = TRUE;
  g_cond_broadcast (&fake.cond);
  g_mutex_unlock (&fake.lock);
  g_main_loop_run (fake.loop);

  g_dbus_connection_close_sync (fake.connection, NULL, NULL);
  g_clear_object (&fake.connection);
  g_main_context_pop_thread_default (fake.context);
  return NULL;
}

static void
fake_start (const char *address)
{
  fake.address = g_strdup (address);
  fake.context = g_main_context_new ();
  fake.loop = g_main_loop_new (fake.context, FALSE);
  fake.acked = g_ptr_array_new_with_free_func (g_free);
  fake.events_first = "pending";
  fake.devices = "good";
  g_mutex_init (&fake.lock);
  g_cond_init (&fake.cond);
  fake.thread = g_thread_new ("fake-devbgd", fake_thread, NULL);
  g_mutex_lock (&fake.lock);
  while (!fake.ready)
    g_cond_wait (&fake.cond, &fake.lock);
  g_mutex_unlock (&fake.lock);
}

static void
fake_stop (void)
{
  g_main_loop_quit (fake.loop);
  g_thread_join (fake.thread);
  g_main_loop_unref (fake.loop);
  g_main_context_unref (fake.context);
  g_ptr_array_unref (fake.acked);
  g_free (fake.address);
}

static gboolean
fake_acked (const char *event_id)
{
  gboolean found = FALSE;

  g_mutex_lock (&fake.lock);
  for (guint i = 0; i < fake.acked->len; i++)
    found = found || strcmp (g_ptr_array_index (fake.acked, i), event_id) == 0;
  g_mutex_unlock (&fake.lock);
  return found;
}

static guint
fake_watch_calls (void)
{
  guint n;

  g_mutex_lock (&fake.lock);
  n = fake.watch_calls;
  g_mutex_unlock (&fake.lock);
  return n;
}

static guint
fake_list_calls (void)
{
  guint n;

  g_mutex_lock (&fake.lock);
  n = fake.list_calls;
  g_mutex_unlock (&fake.lock);
  return n;
}

/* The page the next WatchEvents answers. */
static void
fake_set_events_first (const char *name)
{
  g_mutex_lock (&fake.lock);
  fake.events_first = name;
  g_mutex_unlock (&fake.lock);
}

/* ---- the test's side */

typedef struct {
  GDBusConnection *connection;
  DevbgClient     *client;
  GPtrArray       *completed;  /* "task_id:event_id" */
  char            *progress;   /* "instance_id:progress", the last one */
} Fixture;

/* Spins the main context until @cond holds, failing after 5 s. */
#define WAIT_FOR(cond) G_STMT_START {                                         \
    gint64 _deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;      \
    while (!(cond))                                                            \
      {                                                                        \
        g_assert_cmpint (g_get_monotonic_time (), <, _deadline);              \
        g_main_context_iteration (NULL, FALSE);                                \
        g_usleep (1000);                                                       \
      }                                                                        \
  } G_STMT_END

/* Lets everything queued so far be handled: a round trip to the fake
 * devbgd, then idles. */
static void
settle (Fixture *f)
{
  g_autoptr(GVariant) r = g_dbus_connection_call_sync (f->connection, BUS_NAME, OBJECT_PATH,
                                                       "org.freedesktop.DBus.Peer", "Ping",
                                                       NULL, NULL, 0, -1, NULL, NULL);
  for (int i = 0; i < 50; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (1000);
    }
}

static void
emit_to_client (GDBusConnection *from, Fixture *f, const char *signal, GVariant *params)
{
  g_autoptr(GError) error = NULL;

  g_dbus_connection_emit_signal (from, g_dbus_connection_get_unique_name (f->connection),
                                 OBJECT_PATH, IFACE, signal, params, &error);
  g_assert_no_error (error);
  g_dbus_connection_flush_sync (from, NULL, NULL);
}

static void
on_completed (DevbgRegistration *reg, DevbgCompletion *c, gpointer data)
{
  Fixture *f = data;

  g_ptr_array_add (f->completed, g_strdup_printf ("%s:%s", devbg_registration_get_task_id (reg),
                                                  devbg_completion_get_event_id (c)));
}

static void
on_progress (DevbgRegistration *reg, const char *instance_id, guint progress, gpointer data)
{
  Fixture *f = data;

  g_free (f->progress);
  f->progress = g_strdup_printf ("%s:%u", instance_id, progress);
}

static guint
count_completed (Fixture *f, const char *entry)
{
  guint n = 0;

  for (guint i = 0; i < f->completed->len; i++)
    n += strcmp (g_ptr_array_index (f->completed, i), entry) == 0;
  return n;
}

/* Every field of @c, to compare whole. */
static void
on_completed_full (DevbgRegistration *reg, DevbgCompletion *c, gpointer data)
{
  Fixture *f = data;

  g_ptr_array_add (f->completed,
                   g_strdup_printf ("%s:%s:%s:%d:%s:%s:%" G_GINT64_FORMAT,
                                    devbg_registration_get_task_id (reg),
                                    devbg_completion_get_event_id (c),
                                    devbg_completion_get_instance_id (c),
                                    devbg_completion_get_success (c),
                                    devbg_completion_get_error_message (c),
                                    devbg_completion_get_cancel_reason (c),
                                    devbg_completion_get_finished_us (c)));
}

/* @data: the page the client's WatchEvents gets ("pending" when NULL). */
static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint watch_before;

  fake_set_events_first (data != NULL ? data : "pending");
  watch_before = fake_watch_calls ();
  f->connection = g_dbus_connection_new_for_address_sync (fake.address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);
  g_assert_no_error (error);
  f->completed = g_ptr_array_new_with_free_func (g_free);
  f->client = devbg_client_new_for_connection (f->connection);
  /* WatchEvents is called once the client sees devbgd on the bus: waited
   * for here, so that a test's own clients get the pages it names. */
  WAIT_FOR (fake_watch_calls () == watch_before + 1);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->client);
  settle (f);
  g_dbus_connection_close_sync (f->connection, NULL, NULL);
  g_clear_object (&f->connection);
  g_ptr_array_unref (f->completed);
  g_free (f->progress);
}

static GHashTable *
all_tasks (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  GHashTable *tasks = devbg_client_get_all_tasks_sync (f->client, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (tasks);
  return tasks;
}

static void
test_events (Fixture *f, gconstpointer data)
{
  g_autoptr(GHashTable) tasks = NULL;
  g_autoptr(GHashTable) again = NULL;
  g_autoptr(DevbgRegistration) found = NULL;
  g_autoptr(GDBusConnection) impostor = NULL;
  DevbgRegistration *sync, *update;

  /* Pending ev1 comes again as a signal (a duplicate); ev2 arrives for a
   * task with no registration object yet. */
  emit_to_client (fake.connection, f, "Completed",
                  completion_tuple ("ev1", "t-sync", "i0", TRUE, "", ""));
  emit_to_client (fake.connection, f, "Completed",
                  completion_tuple ("ev2", "t-update", "i1", FALSE, "The dock refused", ""));
  settle (f);
  g_assert_cmpuint (f->completed->len, ==, 0);
  g_assert_false (fake_acked ("ev1"));

  /* Objects appear: the same object per task ID while it lives. */
  tasks = all_tasks (f);
  again = all_tasks (f);
  sync = g_hash_table_lookup (tasks, "t-sync");
  update = g_hash_table_lookup (tasks, "t-update");
  g_assert_nonnull (sync);
  g_assert_true (sync == g_hash_table_lookup (again, "t-sync"));
  found = devbg_client_find_task_sync (f->client, "dock-update", NULL, NULL);
  g_assert_true (found == update);
  g_assert_cmpint (devbg_registration_get_trigger_type (update), ==, DEVBG_TRIGGER_SERVICING);

  /* Handlers connected before the main loop runs again get every event,
   * each once, and devbgd is told. Only t-sync has a handler so far:
   * ev2 waits, unacknowledged. */
  g_signal_connect (sync, "completed", G_CALLBACK (on_completed), f);
  g_signal_connect (sync, "progress", G_CALLBACK (on_progress), f);
  WAIT_FOR (fake_acked ("ev1"));
  settle (f);
  g_assert_cmpuint (count_completed (f, "t-sync:ev1"), ==, 1);
  g_assert_cmpuint (f->completed->len, ==, 1);
  g_assert_false (fake_acked ("ev2"));

  g_signal_connect (update, "completed", G_CALLBACK (on_completed), f);
  g_clear_pointer (&again, g_hash_table_unref);
  again = all_tasks (f);  /* handing the object out again flushes */
  WAIT_FOR (fake_acked ("ev2"));
  g_assert_cmpuint (count_completed (f, "t-update:ev2"), ==, 1);

  /* Live events: progress, and a completion straight to its object. */
  emit_to_client (fake.connection, f, "Progress", g_variant_new ("(ssu)", "t-sync", "i5", 42));
  WAIT_FOR (f->progress != NULL);
  g_assert_cmpstr (f->progress, ==, "i5:42");
  emit_to_client (fake.connection, f, "Completed",
                  completion_tuple ("ev3", "t-sync", "i5", TRUE, "", ""));
  WAIT_FOR (count_completed (f, "t-sync:ev3") == 1);

  /* Anyone else on the bus sending devbgd's signals is ignored. */
  impostor = g_dbus_connection_new_for_address_sync (fake.address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, NULL);
  g_assert_nonnull (impostor);
  emit_to_client (impostor, f, "Completed",
                  completion_tuple ("ev4", "t-sync", "i6", FALSE, "fake", ""));
  emit_to_client (impostor, f, "Progress", g_variant_new ("(ssu)", "t-sync", "i6", 99));
  emit_to_client (fake.connection, f, "Progress", g_variant_new ("(ssu)", "t-sync", "i5", 43));
  WAIT_FOR (g_strcmp0 (f->progress, "i5:43") == 0);
  settle (f);
  g_assert_cmpuint (count_completed (f, "t-sync:ev4"), ==, 0);
  g_assert_cmpstr (f->progress, ==, "i5:43");
  g_dbus_connection_close_sync (impostor, NULL, NULL);
}

static void
request_done (GObject *source, GAsyncResult *result, gpointer data)
{
  GAsyncResult **out = data;

  *out = g_object_ref (result);
}

static DevbgTriggerResult
request (Fixture *f, DevbgTrigger *trigger, DevbgRegistration *reg, const char *device_id,
         const char *arguments, guint duration, char **reason, char **instance_id,
         GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  devbg_trigger_request_async (trigger, reg, device_id, arguments, duration, NULL,
                               request_done, &result);
  WAIT_FOR (result != NULL);
  return devbg_trigger_request_finish (trigger, result, reason, instance_id, error);
}

static void
test_request (Fixture *f, gconstpointer data)
{
  g_autoptr(GHashTable) tasks = all_tasks (f);
  g_autoptr(DevbgTrigger) use = devbg_use_trigger_new ();
  g_autoptr(DevbgTrigger) servicing = devbg_servicing_trigger_new ();
  DevbgRegistration *sync = g_hash_table_lookup (tasks, "t-sync");
  DevbgRegistration *update = g_hash_table_lookup (tasks, "t-update");
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *instance = NULL;
  DevbgTriggerResult r;

  r = request (f, use, sync, "virtual-B0A1-0000", "chunk=50", 0, &reason, &instance, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, DEVBG_RESULT_ALLOWED);
  g_assert_cmpstr (reason, ==, "allowed");
  g_assert_cmpstr (instance, ==, "inst-1");
  g_clear_pointer (&reason, g_free);
  g_clear_pointer (&instance, g_free);

  r = request (f, servicing, update, "absent", NULL, 120, &reason, &instance, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, DEVBG_RESULT_DENIED_BY_SYSTEM);
  g_assert_cmpstr (reason, ==, "no-such-device");
  g_assert_cmpstr (instance, ==, "");
  g_clear_pointer (&reason, g_free);

  /* A result this library does not know is a denial, with its reason. */
  r = devbg_trigger_request_sync (use, sync, "d", "result=9", 0, &reason, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, DEVBG_RESULT_DENIED_BY_SYSTEM);
  g_assert_cmpstr (reason, ==, "something-new");
  g_clear_pointer (&reason, g_free);

  /* Checked locally: errors, not criticals, and nothing sent; never
   * mistaken for a denial. */
  r = request (f, use, sync, "bad\xff", "", 0, NULL, NULL, &error);
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (r, ==, DEVBG_RESULT_FAILED);
  g_clear_error (&error);
  request (f, use, sync, "d", "\xc3", 0, NULL, NULL, &error);
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  request (f, use, sync, NULL, "", 0, NULL, NULL, &error);
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  request (f, use, sync, "d", "", 5, NULL, NULL, &error);
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  {
    /* The library does not judge the estimate: devbgd's policy does, and
     * answers with its reason. */
    g_autofree char *why = NULL;
    g_assert_cmpint (request (f, servicing, update, "d", "", 30 * 60, &why, NULL, &error), ==,
                     DEVBG_RESULT_DENIED_BY_SYSTEM);
    g_assert_no_error (error);
    g_assert_cmpstr (why, ==, "estimate-too-long");
  }
  request (f, servicing, sync, "d", "", 0, NULL, NULL, &error);
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_WRONG_TRIGGER_TYPE);
  g_clear_error (&error);
  r = devbg_trigger_request_sync (use, NULL, "d", "", 0, NULL, NULL, NULL, &error);
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (r, ==, DEVBG_RESULT_FAILED);
  g_assert_cmpstr (devbg_trigger_result_to_string (r), ==, "failed");
  g_clear_error (&error);
  g_assert_false (devbg_client_cancel_sync (f->client, "\xff", NULL, &error));
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (devbg_client_find_task_sync (f->client, "\xfe", NULL, &error));
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_true (devbg_client_cancel_sync (f->client, "inst-1", NULL, &error));
  g_assert_true (devbg_client_detach_sync (f->client, "inst-1", NULL, &error));
  g_assert_no_error (error);
}

static void
keep_completion (DevbgRegistration *reg, DevbgCompletion *c, gpointer data)
{
  Fixture *f = data;

  g_ptr_array_add (f->completed, g_object_ref (c));
}

static void
test_completion_result (Fixture *f, gconstpointer data)
{
  g_autoptr(GHashTable) tasks = all_tasks (f);
  DevbgRegistration *update = g_hash_table_lookup (tasks, "t-update");
  g_autoptr(DevbgCompletion) failed = NULL;
  g_autoptr(DevbgCompletion) canceled = NULL;
  g_autoptr(GError) error = NULL;
  DevbgCancelReason reason = DEVBG_CANCEL_ENERGY_SAVER;

  WAIT_FOR (fake_watch_calls () > 0);
  g_signal_connect (update, "completed", G_CALLBACK (keep_completion), f);
  /* The container takes the objects themselves here. */
  g_ptr_array_set_free_func (f->completed, g_object_unref);
  emit_to_client (fake.connection, f, "Completed",
                  completion_tuple ("ev10", "t-update", "i9", FALSE, "The dock refused the image", ""));
  emit_to_client (fake.connection, f, "Completed",
                  completion_tuple ("ev11", "t-update", "i10", FALSE, "canceled", "abort"));
  WAIT_FOR (f->completed->len == 2);
  failed = g_object_ref (g_ptr_array_index (f->completed, 0));
  canceled = g_object_ref (g_ptr_array_index (f->completed, 1));
  g_ptr_array_set_size (f->completed, 0);
  g_ptr_array_set_free_func (f->completed, g_free);

  g_assert_cmpstr (devbg_completion_get_instance_id (failed), ==, "i9");
  g_assert_cmpstr (devbg_completion_get_task_id (failed), ==, "t-update");
  g_assert_cmpint (devbg_completion_get_finished_us (failed), ==, 1700000000000000);
  g_assert_false (devbg_completion_was_canceled (failed, NULL));
  g_assert_false (devbg_completion_check_result (failed, &error));
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "The dock refused the image");
  g_clear_error (&error);

  g_assert_true (devbg_completion_was_canceled (canceled, &reason));
  g_assert_cmpint (reason, ==, DEVBG_CANCEL_ABORT);
  g_assert_false (devbg_completion_check_result (canceled, &error));
  g_assert_cmpstr (error->message, ==, "The task was canceled (abort): canceled");
}

static void
check_good_history (GPtrArray *tasks)
{
  DevbgTaskInfo *a, *b;
  g_autoptr(GVariant) expected = NULL;
  g_autoptr(GVariant) from_property = NULL;

  g_assert_cmpuint (tasks->len, ==, 2);
  a = g_ptr_array_index (tasks, 0);
  b = g_ptr_array_index (tasks, 1);
  g_assert_cmpstr (devbg_task_info_get_instance_id (a), ==, "i-new");
  g_assert_cmpstr (devbg_task_info_get_task_id (a), ==, "t-sync");
  g_assert_cmpstr (devbg_task_info_get_app_id (a), ==, "org.example.App");
  g_assert_cmpstr (devbg_task_info_get_name (a), ==, "band-sync");
  g_assert_cmpstr (devbg_task_info_get_entry_point (a), ==, "App.Sync");
  g_assert_cmpint (devbg_task_info_get_trigger_type (a), ==, DEVBG_TRIGGER_USE);
  g_assert_cmpstr (devbg_task_info_get_device_id (a), ==, "band0");
  g_assert_cmpuint (devbg_task_info_get_uid (a), ==, 1000);
  g_assert_cmpint (devbg_task_info_get_started_us (a), ==, 1700000000000000);
  g_assert_cmpint (devbg_task_info_get_finished_us (a), ==, 1700000005000000);
  g_assert_true (devbg_task_info_get_success (a));
  g_assert_cmpstr (devbg_task_info_get_error_message (a), ==, "");
  g_assert_cmpstr (devbg_task_info_get_cancel_reason (a), ==, "");
  /* As the a{sv} entries gave it: finished, no state, no progress or limit. */
  g_assert_true (devbg_task_info_get_finished (a));
  g_assert_cmpstr (devbg_task_info_get_state (a), ==, "");
  g_assert_cmpuint (devbg_task_info_get_progress (a), ==, 0);
  g_assert_cmpuint (devbg_task_info_get_limit_s (a), ==, 0);

  g_assert_cmpint (devbg_task_info_get_trigger_type (b), ==, DEVBG_TRIGGER_SERVICING);
  g_assert_cmpuint (devbg_task_info_get_uid (b), ==, G_MAXUINT32);
  g_assert_cmpint (devbg_task_info_get_started_us (b), ==, -5);
  g_assert_cmpint (devbg_task_info_get_finished_us (b), ==, G_MAXINT64);
  g_assert_false (devbg_task_info_get_success (b));
  g_assert_cmpstr (devbg_task_info_get_error_message (b), ==, "The dock said no");
  g_assert_cmpstr (devbg_task_info_get_cancel_reason (b), ==, "abort");

  /* The properties: the keys, types and order devbgd's dictionaries had. */
  expected = g_variant_ref_sink (g_variant_new_parsed (
    "{'instance-id': <'i-old'>, 'task-id': <'t-up'>, 'app-id': <'org.example.App'>, "
    "'name': <'dock-up'>, 'entry-point': <'App.Up'>, 'trigger': <'servicing'>, "
    "'device-id': <'dock0'>, 'uid': <uint32 4294967295>, 'started-us': <int64 -5>, "
    "'finished-us': <int64 9223372036854775807>, 'success': <false>, "
    "'error': <'The dock said no'>, 'cancel-reason': <'abort'>}"));
  g_assert_true (g_variant_equal (devbg_task_info_get_properties (b), expected));
  /* Made once: the getter and the GObject property give the same one. */
  g_assert_true (devbg_task_info_get_properties (b) == devbg_task_info_get_properties (b));
  g_object_get (a, "properties", &from_property, NULL);
  g_assert_true (from_property == devbg_task_info_get_properties (a));
  g_assert_cmpuint (g_variant_n_children (from_property), ==, 13);
}

static void
test_history (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tasks = NULL;
  g_autoptr(GPtrArray) empty = NULL;
  g_autofree char *next = NULL;
  g_autofree char *empty_next = NULL;

  tasks = devbg_client_get_history_sync (f->client, 0, "good", &next, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (next, ==, "more");
  check_good_history (tasks);

  empty = devbg_client_get_history_sync (f->client, 0, "empty", &empty_next, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (empty->len, ==, 0);
  g_assert_cmpstr (empty_next, ==, "");
}

static void
on_history (GObject *source, GAsyncResult *result, gpointer data)
{
  GAsyncResult **out = data;

  *out = g_object_ref (result);
}

static void
test_history_async (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) bad = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tasks = NULL;
  g_autofree char *next = NULL;

  devbg_client_get_history_async (f->client, 0, "good", NULL, on_history, &result);
  WAIT_FOR (result != NULL);
  tasks = devbg_client_get_history_finish (f->client, result, &next, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (next, ==, "more");
  check_good_history (tasks);

  devbg_client_get_history_async (f->client, 0, "bad-success", NULL, on_history, &bad);
  WAIT_FOR (bad != NULL);
  g_assert_null (devbg_client_get_history_finish (f->client, bad, NULL, &error));
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
}

/* Every malformed page is refused with an error that says what is wrong. */
static void
test_history_malformed (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *page;
    const char *message;
  } cases[] = {
    { "bad-utf8", "packed records: field 15 is not UTF-8" },
    { "bad-count", "packed records: 25 fields are not whole records of 13" },
    { "bad-uid", "History record 1: uid '4294967296' is not a number from 0 to 4294967295" },
    { "bad-started", "History record 0: started-us '12x' is not a number from "
                     "-9223372036854775808 to 9223372036854775807" },
    { "bad-finished", "History record 0: finished-us '+3' is not a number from "
                      "-9223372036854775808 to 9223372036854775807" },
    { "bad-success", "History record 0: success 'true' is neither 0 nor 1" },
    { "bad-trigger", "History record 0: unknown trigger 'deviceUse'" },
    { "bad-end", "packed records: the page does not end with a NUL" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *next = NULL;
      g_autoptr(GPtrArray) tasks = devbg_client_get_history_sync (f->client, 0, cases[i].page,
                                                                  &next, NULL, &error);

      g_assert_null (tasks);
      g_assert_null (next);
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

/* Pending events over two pages reach their registrations' handlers
 * whole, each once, oldest first per task, and are acknowledged. */
static void
test_events_pages (Fixture *f, gconstpointer data)
{
  g_autoptr(GHashTable) tasks = NULL;
  guint list_before = fake_list_calls ();

  tasks = all_tasks (f);
  g_signal_connect (g_hash_table_lookup (tasks, "t-sync"), "completed",
                    G_CALLBACK (on_completed_full), f);
  g_signal_connect (g_hash_table_lookup (tasks, "t-update"), "completed",
                    G_CALLBACK (on_completed_full), f);
  WAIT_FOR (fake_acked ("ev-a") && fake_acked ("ev-b") && fake_acked ("ev-c"));
  settle (f);
  g_assert_cmpuint (fake_list_calls (), ==, list_before + 1);
  g_assert_cmpuint (f->completed->len, ==, 3);
  g_assert_cmpuint (count_completed (f, "t-update:ev-b:i-b:0:The dock refused:abort:"
                                        "-9223372036854775808"), ==, 1);
  /* t-sync's two, in order, though on two pages. */
  {
    guint a = G_MAXUINT, c = G_MAXUINT;

    for (guint i = 0; i < f->completed->len; i++)
      {
        const char *entry = g_ptr_array_index (f->completed, i);

        if (strcmp (entry, "t-sync:ev-a:i-ev-a:1:::1700000000000000") == 0)
          a = i;
        if (strcmp (entry, "t-sync:ev-c:i-ev-c:1:::1700000000000000") == 0)
          c = i;
      }
    g_assert_cmpuint (a, <, c);
    g_assert_cmpuint (c, <, f->completed->len);
  }
}

/* More events on a page than one AcknowledgeEvents may carry: all
 * delivered in order, and acknowledged in calls devbgd takes. */
static void
test_events_many (Fixture *f, gconstpointer data)
{
  g_autoptr(GHashTable) tasks = all_tasks (f);
  guint acks_before;

  g_mutex_lock (&fake.lock);
  acks_before = fake.ack_calls;
  g_mutex_unlock (&fake.lock);
  g_signal_connect (g_hash_table_lookup (tasks, "t-sync"), "completed",
                    G_CALLBACK (on_completed), f);
  WAIT_FOR (f->completed->len == MANY_EVENTS);
  WAIT_FOR (fake_acked ("many-0") && fake_acked ("many-" G_STRINGIFY (MANY_EVENTS_LAST)));
  settle (f);
  g_assert_cmpstr (g_ptr_array_index (f->completed, 0), ==, "t-sync:many-0");
  g_assert_cmpstr (g_ptr_array_index (f->completed, MANY_EVENTS - 1), ==,
                   "t-sync:many-" G_STRINGIFY (MANY_EVENTS_LAST));
  g_mutex_lock (&fake.lock);
  g_assert_cmpuint (fake.ack_calls - acks_before, ==, 3);
  g_mutex_unlock (&fake.lock);
}

/* An empty page: nothing delivered, no ListEvents. */
static void
test_events_empty (Fixture *f, gconstpointer data)
{
  guint list_before = fake_list_calls ();
  g_autoptr(GHashTable) tasks = NULL;

  tasks = all_tasks (f);
  g_signal_connect (g_hash_table_lookup (tasks, "t-sync"), "completed",
                    G_CALLBACK (on_completed_full), f);
  settle (f);
  g_assert_cmpuint (f->completed->len, ==, 0);
  g_assert_cmpuint (fake_list_calls (), ==, list_before);
}

/* libdevbg's warnings that it refused a page of pending events, kept for
 * the test to check (g_test_expect_message() does not see structured
 * logging in GLib 2.74); every other message goes on as usual, a warning
 * failing the test. */
#define REFUSED_PAGE "devbg: refused a page of pending events from devbgd: "
static GMutex refused_lock;
static GPtrArray *refused_pages;

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  const char *domain = NULL, *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (strcmp (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
    }
  if ((level & G_LOG_LEVEL_WARNING) && g_strcmp0 (domain, "libdevbg") == 0 &&
      message != NULL && g_str_has_prefix (message, REFUSED_PAGE))
    {
      g_mutex_lock (&refused_lock);
      g_ptr_array_add (refused_pages, g_strdup (message + strlen (REFUSED_PAGE)));
      g_mutex_unlock (&refused_lock);
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, data);
}

static guint
refused_count (void)
{
  guint n;

  g_mutex_lock (&refused_lock);
  n = refused_pages->len;
  g_mutex_unlock (&refused_lock);
  return n;
}

/* Every malformed page is refused whole, by name (a warning that says
 * what is wrong), and the pages after it are not asked for; the
 * well-formed page before it is delivered. */
static void
test_events_malformed (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *first;
    const char *good_id;   /* delivered: the lead page's */
    const char *bad_id;    /* the good record on the malformed page */
    const char *message;
  } cases[] = {
    { "bad-utf8", NULL, "ev-u", "packed records: field 8 is not UTF-8" },
    { "bad-count", NULL, "ev-n", "packed records: 13 fields are not whole records of 7" },
    { "bad-success", NULL, "ev-s", "Event record 1: success 'true' is neither 0 nor 1" },
    { "bad-finished", NULL, "ev-f", "Event record 1: finished-us '+5' is not a number from "
                                    "-9223372036854775808 to 9223372036854775807" },
    { "bad-end", NULL, "ev-e", "packed records: the page does not end with a NUL" },
    { "lead", "ev-lead", "ev-s", "Event record 1: success 'true' is neither 0 nor 1" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(DevbgClient) client = NULL;
      g_autoptr(GHashTable) tasks = NULL;
      g_autoptr(GError) error = NULL;
      guint watch_before = fake_watch_calls ();
      guint list_before = fake_list_calls ();
      guint refused_before = refused_count ();
      guint lists = cases[i].good_id != NULL ? 1 : 0;

      fake_set_events_first (cases[i].first);
      client = devbg_client_new_for_connection (f->connection);
      WAIT_FOR (refused_count () == refused_before + 1);
      settle (f);
      g_assert_cmpuint (refused_count (), ==, refused_before + 1);
      g_assert_cmpstr (g_ptr_array_index (refused_pages, refused_before), ==, cases[i].message);
      g_assert_cmpuint (fake_watch_calls (), ==, watch_before + 1);
      /* Handlers for every task now: only the lead page's event comes. */
      tasks = devbg_client_get_all_tasks_sync (client, NULL, &error);
      g_assert_no_error (error);
      g_signal_connect (g_hash_table_lookup (tasks, "t-sync"), "completed",
                        G_CALLBACK (on_completed_full), f);
      if (cases[i].good_id != NULL)
        WAIT_FOR (fake_acked (cases[i].good_id));
      settle (f);
      g_assert_false (fake_acked (cases[i].bad_id));
      g_assert_cmpuint (f->completed->len, ==, lists);
      g_assert_cmpuint (fake_list_calls (), ==, list_before + lists);
      g_ptr_array_set_size (f->completed, 0);
    }
}

/* The devices ListDevices answers from now on (devices_pages' set). */
static void
fake_set_devices (const char *set)
{
  g_mutex_lock (&fake.lock);
  fake.devices = set;
  g_mutex_unlock (&fake.lock);
}

static guint
fake_devices_calls (void)
{
  guint n;

  g_mutex_lock (&fake.lock);
  n = fake.devices_calls;
  g_mutex_unlock (&fake.lock);
  return n;
}

static void
check_good_devices (GPtrArray *devices)
{
  static const char *const ids[] = { "band-a", "band-b", "dock-c", "watch-d" };

  g_assert_nonnull (devices);
  g_assert_cmpuint (devices->len, ==, G_N_ELEMENTS (ids));
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      DevbgDeviceInfo *info = g_ptr_array_index (devices, i);

      g_assert_cmpstr (devbg_device_info_get_id (info), ==, ids[i]);
      g_assert_cmpstr (devbg_device_info_get_name (info), ==, ids[i]);
    }
}

/* Three pages make one list, each device once, in order, sync and async. */
static void
test_devices_pages (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(GPtrArray) again = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  guint calls = fake_devices_calls ();

  fake_set_devices ("good");
  devices = devbg_client_list_devices_sync (f->client, NULL, &error);
  g_assert_no_error (error);
  check_good_devices (devices);
  g_assert_cmpuint (fake_devices_calls (), ==, calls + 3);

  devbg_client_list_devices_async (f->client, NULL, on_history, &result);
  WAIT_FOR (result != NULL);
  again = devbg_client_list_devices_finish (f->client, result, &error);
  g_assert_no_error (error);
  check_good_devices (again);
  g_assert_cmpuint (fake_devices_calls (), ==, calls + 6);
}

/* Every malformed page is refused with an error that says what is wrong,
 * sync and async, and a service that does not advance is not asked again. */
static void
test_devices_malformed (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *set;
    const char *message;
    guint       calls;
  } cases[] = {
    { "not-normal", "devices page: 29 bytes are not an a(sa{sv}) in normal form", 1 },
    { "bad-next", "devices page: the continuation 'band-a' is not the page's last ID 'band-b'",
      1 },
    { "empty-more", "devices page: the page is empty but has a continuation 'band-a'", 1 },
    { "backwards", "devices page: device 0 'band-a' is not after 'band-b'", 2 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) async_error = NULL;
      g_autoptr(GAsyncResult) result = NULL;
      guint calls = fake_devices_calls ();

      fake_set_devices (cases[i].set);
      g_assert_null (devbg_client_list_devices_sync (f->client, NULL, &error));
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
      g_assert_cmpstr (error->message, ==, cases[i].message);
      g_assert_cmpuint (fake_devices_calls (), ==, calls + cases[i].calls);

      devbg_client_list_devices_async (f->client, NULL, on_history, &result);
      WAIT_FOR (result != NULL);
      g_assert_null (devbg_client_list_devices_finish (f->client, result, &async_error));
      g_assert_error (async_error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
      g_assert_cmpstr (async_error->message, ==, cases[i].message);
      g_assert_cmpuint (fake_devices_calls (), ==, calls + 2 * cases[i].calls);
    }
  fake_set_devices ("good");
}

int
main (int argc, char **argv)
{
  g_autoptr(GTestDBus) bus = NULL;
  int status;

  refused_pages = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (log_writer, NULL, NULL);
  g_test_init (&argc, &argv, NULL);
  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus);
  fake_start (g_test_dbus_get_bus_address (bus));

  g_test_add ("/client/events", Fixture, NULL, fixture_setup, test_events, fixture_teardown);
  g_test_add ("/client/events-pages", Fixture, "first", fixture_setup, test_events_pages,
              fixture_teardown);
  g_test_add ("/client/events-empty", Fixture, "empty", fixture_setup, test_events_empty,
              fixture_teardown);
  g_test_add ("/client/events-many", Fixture, "many", fixture_setup, test_events_many,
              fixture_teardown);
  g_test_add ("/client/events-malformed", Fixture, NULL, fixture_setup, test_events_malformed,
              fixture_teardown);
  g_test_add ("/client/request", Fixture, NULL, fixture_setup, test_request, fixture_teardown);
  g_test_add ("/client/completion-result", Fixture, NULL, fixture_setup, test_completion_result,
              fixture_teardown);
  g_test_add ("/client/history", Fixture, NULL, fixture_setup, test_history, fixture_teardown);
  g_test_add ("/client/history-async", Fixture, NULL, fixture_setup, test_history_async,
              fixture_teardown);
  g_test_add ("/client/history-malformed", Fixture, NULL, fixture_setup, test_history_malformed,
              fixture_teardown);
  g_test_add ("/client/devices-pages", Fixture, NULL, fixture_setup, test_devices_pages,
              fixture_teardown);
  g_test_add ("/client/devices-malformed", Fixture, NULL, fixture_setup, test_devices_malformed,
              fixture_teardown);
  status = g_test_run ();

  fake_stop ();
  g_test_dbus_down (bus);
  g_ptr_array_unref (refused_pages);
  return status;
}
