/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-daemon"

#include "devbg-daemon.h"

#include <gio/gunixfdlist.h>
#include <malloc.h>
#include <string.h>

#include "devbg-consent.h"
#include "devbg-error.h"
#include "devbg-fair-queue.h"
#include "devbg-flatpak.h"
#include "devbg-identity.h"
#include "devbg-list-channel.h"
#include "devbg-log.h"
#include "devbg-manifest.h"
#include "devbg-metadata.h"
#include "devbg-read-ahead.h"
#include "devbg-reply-budget.h"
#include "devbg-records.h"
#include "devbg-runtime.h"
#include "devbg-store.h"
#include "devbg-utf8.h"

#define MAX_REGISTRATION_NAME DEVBG_MAX_NAME
#define MAX_DEVICE_ID DEVBG_MAX_DEVICE_ID
#define MAX_ARGUMENTS DEVBG_MAX_ARGUMENTS
#define MAX_EXPECTED_DURATION DEVBG_MAX_EXPECTED_DURATION_S
#define DEFAULT_HISTORY 100

struct _DevbgDaemon {
  GObject          parent;
  DevbgConfig      config;
  char            *proc_root;
  DevbgStore      *store;
  GHashTable      *apps;     /* app ID -> DevbgManifest */
  GPtrArray       *metadata; /* of DevbgMetadata */
  GDBusConnection *connection;
  guint            registration_id;
  GDBusNodeInfo   *introspection;
  DevbgDevices    *devices;
  DevbgRuntime    *runtime;
  DevbgConsent    *consent;
  /* Unique bus name -> Peer: each connection's identity, fixed when it
   * appears on the bus and forgotten when it leaves. */
  GHashTable      *identities;
  guint            name_owner_subscription;
  /* The trusted directories, watched: packages install, change and remove
   * manifests and metadata while devbgd runs. */
  GStrv            manifest_dirs;
  GStrv            metadata_dirs;
  GPtrArray       *monitors; /* of GFileMonitor */
  guint            reload_source;
  DevbgFlatpak    *flatpak;  /* Flatpak installations, and the manifests their apps ship */
  /* A manifest's executable installed after the manifest: when a caller's
   * executable was last compared with the manifests' missing paths
   * resolved, and when the manifests were last reloaded for one. */
  gint64           late_exe_resolved_us;
  gint64           late_exe_reload_us;
  /* Pages of long lists packed before they are asked for, and the
   * callers one is being packed for (sender -> its idle source ID). */
  DevbgReadAhead  *read_ahead;
  GHashTable      *reading_ahead;
  guint            heap_trim_source;
  gint64           heap_untrimmed_since; /* the first large reply since the last trim */
  DevbgListChannels *list_channels;
  DevbgReplyBudget *reply_budget;
  DevbgFairQueue  *list_calls;   /* list calls on the bus, served users in turn */
};

G_DEFINE_TYPE (DevbgDaemon, devbg_daemon, G_TYPE_OBJECT)

/* ---- one call, with its caller resolved ---- */

typedef struct {
  DevbgDaemon           *daemon;
  GDBusMethodInvocation *invocation;
  DevbgIdentity         *caller;
  const char            *channel;  /* the list channel it came on, NULL on the bus */
  gboolean               async;  /* a handler took it, to answer later */
} Call;

/* Who sent @call: its bus name, or its list channel's key (the pages read
 * ahead are kept per sender). */
static const char *
call_sender (Call *call)
{
  return call->channel != NULL ? call->channel
                               : g_dbus_method_invocation_get_sender (call->invocation);
}

static void
call_free (Call *call)
{
  g_object_unref (call->daemon);
  g_clear_object (&call->invocation);
  devbg_identity_free (call->caller);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static void
return_error (Call *call, GError *error)
{
  g_dbus_method_invocation_return_gerror (g_steal_pointer (&call->invocation), error);
}

static void
return_new_error (Call *call, DevbgError code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
return_new_error (Call *call, DevbgError code, const char *format, ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_dbus_method_invocation_return_dbus_error (g_steal_pointer (&call->invocation),
                                              devbg_error_dbus_name (code), msg);
}

/* The caller must be a known app; otherwise answers UnknownApp. */
static gboolean
require_app (Call *call)
{
  if (call->caller->app_id != NULL)
    return TRUE;
  return_new_error (call, DEVBG_ERROR_UNKNOWN_APP,
                    "the caller (pid %d, uid %u) is not a known app: %s",
                    (int) call->caller->pid, (unsigned) call->caller->uid,
                    call->caller->detail);
  return FALSE;
}

/* The caller's manifest today: a Flatpak app's own, shipped in its
 * deployment, else the one in the manifest directories; but never that
 * one for an app of a user's own installation, which may take any ID. */
static DevbgManifest *
caller_manifest (Call *call)
{
  const DevbgFlatpakOrigin *origin = call->caller->flatpak;
  DevbgManifest *m = NULL;

  if (origin != NULL && call->daemon->flatpak != NULL)
    m = devbg_flatpak_lookup (call->daemon->flatpak, origin);
  if (m != NULL || (origin != NULL && origin->user))
    return m;
  return g_hash_table_lookup (call->daemon->apps, call->caller->app_id);
}

static DevbgOwner
owner_of (Call *call)
{
  return (DevbgOwner) { .uid = call->caller->uid, .app_id = call->caller->app_id };
}

/* ---- pages ---- */

/* A continuation is the decimal store cursor of the last entry a page
 * held; "" asks for the first page, and a reply's "" says there is no more. */
static gboolean
parse_continuation (Call *call, const char *text, gint64 *cursor)
{
  guint64 value = 0;

  *cursor = DEVBG_STORE_CURSOR_START;
  if (*text == '\0')
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &value, NULL))
    {
      g_autofree char *quoted = devbg_utf8_excerpt (text, 32);

      return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT,
                        "continuation '%s' is not one that devbgd gave", quoted);
      return FALSE;
    }
  *cursor = (gint64) value;
  return TRUE;
}

static gboolean
check_text_argument (Call *call, const char *what, const char *value, gsize max)
{
  gsize len = strlen (value);

  if (len == 0 || len > max)
    {
      return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT,
                        "%s must be 1 to %zu bytes long (got %zu)", what, max, len);
      return FALSE;
    }
  for (const char *c = value; *c != '\0'; c++)
    if ((guchar) *c < 0x20 || *c == 0x7f)
      {
        return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT,
                          "%s must not contain control characters", what);
        return FALSE;
      }
  return TRUE;
}

static gboolean
check_uuid (Call *call, const char *what, const char *value)
{
  g_autofree char *quoted = NULL;

  if (g_uuid_string_is_valid (value))
    return TRUE;
  quoted = devbg_utf8_excerpt (value, 64);
  return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT, "%s '%s' is not a UUID", what, quoted);
  return FALSE;
}

/* ---- methods ---- */

static void
handle_get_status (Call *call, GVariant *params)
{
  DevbgDaemon *daemon = call->daemon;
  GVariantBuilder b;
  gint64 regs = 0;

  (void) params;
  if (call->caller->app_id != NULL)
    {
      DevbgOwner owner = owner_of (call);
      regs = devbg_store_count_registrations (daemon->store, &owner, NULL);
    }

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&b, "{sv}", "version", g_variant_new_string (PACKAGE_VERSION));
  g_variant_builder_add (&b, "{sv}", "app-id",
                         g_variant_new_string (call->caller->app_id ? call->caller->app_id : ""));
  g_variant_builder_add (&b, "{sv}", "identity",
                         g_variant_new_string (devbg_identity_source_to_string (call->caller->source)));
  g_variant_builder_add (&b, "{sv}", "uid", g_variant_new_uint32 (call->caller->uid));
  g_variant_builder_add (&b, "{sv}", "manifests",
                         g_variant_new_uint32 (g_hash_table_size (daemon->apps)));
  g_variant_builder_add (&b, "{sv}", "metadata", g_variant_new_uint32 (daemon->metadata->len));
  g_variant_builder_add (&b, "{sv}", "registrations", g_variant_new_uint32 ((guint32) MAX (regs, 0)));
  if (daemon->devices != NULL)
    {
      g_autoptr(GPtrArray) devs = devbg_devices_list (daemon->devices);
      g_variant_builder_add (&b, "{sv}", "devices", g_variant_new_uint32 (devs->len));
    }
  if (daemon->runtime != NULL)
    g_variant_builder_add (&b, "{sv}", "running-tasks",
                           g_variant_new_uint32 (devbg_runtime_count (daemon->runtime)));
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation),
                                         g_variant_new ("(a{sv})", &b));
}

typedef struct {
  Call *call;
  char *task_id;
} PendingRegistration;

static void
on_registration_stored (GObject *source, GAsyncResult *res, gpointer user_data)
{
  PendingRegistration *pending = user_data;
  g_autoptr(Call) call = pending->call;
  g_autofree char *task_id = pending->task_id;
  g_autoptr(GError) error = NULL;

  g_free (pending);
  if (!devbg_store_add_registration_finish (DEVBG_STORE (source), res, &error))
    {
      return_error (call, error);
      return;
    }
  devbg_log_request (G_LOG_LEVEL_INFO, call->caller->app_id, task_id, NULL, call->caller->uid,
                     "app %s of uid %u registered task %s", call->caller->app_id,
                     (unsigned) call->caller->uid, task_id);
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation),
                                         g_variant_new ("(s)", task_id));
}

static void
handle_register (Call *call, GVariant *params)
{
  DevbgDaemon *daemon = call->daemon;
  const char *name, *entry_point, *trigger_str;
  DevbgTriggerType trigger;
  DevbgManifest *manifest;
  const DevbgEntryPoint *ep;
  g_autoptr(GError) error = NULL;
  g_autofree char *task_id = NULL;
  DevbgOwner owner;
  gint64 count;

  g_variant_get (params, "(&s&s&s)", &name, &entry_point, &trigger_str);
  if (!require_app (call) ||
      !check_text_argument (call, "name", name, MAX_REGISTRATION_NAME) ||
      !check_text_argument (call, "entry_point", entry_point, MAX_REGISTRATION_NAME))
    return;
  if (!devbg_trigger_type_from_string (trigger_str, &trigger))
    {
      g_autofree char *quoted = devbg_utf8_excerpt (trigger_str, 32);

      return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT,
                        "trigger '%s' is neither 'use' nor 'servicing'", quoted);
      return;
    }

  manifest = caller_manifest (call);
  ep = manifest != NULL ? devbg_manifest_find_entry_point (manifest, entry_point) : NULL;
  if (ep == NULL)
    {
      g_autofree char *declared = manifest ? devbg_manifest_list_entry_points (manifest)
                                           : g_strdup ("none");
      /* A typo in a category or task type drops the entry point without
       * refusing the manifest: what was ignored points at it. */
      g_autofree char *ignored = manifest ? devbg_manifest_describe_ignored (manifest) : NULL;

      return_new_error (call, DEVBG_ERROR_ENTRY_POINT_NOT_DECLARED,
                        "app %s declares no entry point '%s' in its manifest (names are "
                        "case-sensitive); it declares: %s%s%s",
                        call->caller->app_id, entry_point, declared,
                        ignored != NULL ? "; ignored in it: " : "", ignored != NULL ? ignored : "");
      return;
    }
  if ((ep->triggers & (1u << trigger)) == 0)
    {
      g_autofree char *ignored = devbg_manifest_describe_ignored (manifest);

      return_new_error (call, DEVBG_ERROR_WRONG_TRIGGER_TYPE,
                        "entry point '%s' of app %s is not declared for the %s trigger "
                        "(its manifest declares %s)%s%s", entry_point, call->caller->app_id,
                        trigger_str,
                        (ep->triggers & (1u << DEVBG_TRIGGER_USE)) ? "deviceUse" : "deviceServicing",
                        ignored != NULL ? "; ignored in it: " : "", ignored != NULL ? ignored : "");
      return;
    }

  owner = owner_of (call);
  count = devbg_store_count_registrations (daemon->store, &owner, &error);
  if (count < 0)
    {
      return_error (call, error);
      return;
    }
  if (count >= daemon->config.max_registrations_per_app)
    {
      return_new_error (call, DEVBG_ERROR_LIMIT_EXCEEDED,
                        "app %s of uid %u already has %" G_GINT64_FORMAT " registrations, the "
                        "most allowed (MaxRegistrationsPerApp)", call->caller->app_id,
                        (unsigned) call->caller->uid, count);
      return;
    }

  task_id = g_uuid_string_random ();
  {
    DevbgRegistrationRecord reg = {
      .task_id = task_id,
      .uid = call->caller->uid,
      .app_id = call->caller->app_id,
      .name = (char *) name,
      .entry_point = (char *) entry_point,
      .trigger = trigger,
      .created_us = g_get_real_time (),
    };
    PendingRegistration *pending = g_new0 (PendingRegistration, 1);

    /* Answered once durable, with the others that arrived meanwhile. */
    pending->call = call;
    pending->task_id = g_steal_pointer (&task_id);
    call->async = TRUE;
    devbg_store_add_registration_async (daemon->store, &reg, on_registration_stored, pending);
  }
}

/* ---- packed pages (lib/devbg-records.h) ----
 *
 * The long lists (ListRegistrations, History, WatchEvents, ListEvents,
 * ListPermissions) answer "(ays)": one page of packed records and the
 * continuation. A page holds whole records only, at most [Service]
 * MaxReplyBytes of them (the first always goes in), so that no reply
 * passes the bus's max_message_size, which would drop devbgd's
 * connection. */

typedef struct {
  GByteArray *bytes;
  DevbgRecordsWriter writer; /* writes to bytes, repeats marked */
  gsize       max_bytes;
  guint       max_records;
  guint       records;
  gint64      last_cursor; /* the store position of the last record in */
  gboolean    more;        /* a record did not fit: the list goes on */
} PackedPage;

static void
packed_page_init (PackedPage *page, DevbgDaemon *daemon, guint n_fields, guint max_records,
                  gint64 cursor, gsize expected_record_size)
{
  *page = (PackedPage) {
    .max_bytes = daemon->config.max_reply_bytes,
    .max_records = max_records,
    .last_cursor = cursor,
  };
  /* Room for a few hundred typical records at first (most pages are
   * short), grown by doubling past that. */
  page->bytes = g_byte_array_sized_new ((guint) MIN ((gsize) MIN (max_records, 256) *
                                                     expected_record_size, page->max_bytes));
  devbg_records_writer_init (&page->writer, page->bytes, n_fields);
}

/* Appends one packed record (a store row's, lib/devbg-records.h) at
 * store position @cursor, its repeats of the record before marked: a
 * DevbgRecordVisitor. Full, with @page's more set, when it is (the record
 * counted whole); damaged, and the page unchanged, when the record is not
 * the list's fields. */
static DevbgRecordVisit
packed_page_add (const guint8 *record, gsize size, gint64 cursor, gpointer user_data)
{
  PackedPage *page = user_data;

  if (page->records == page->max_records ||
      (page->records > 0 && page->bytes->len + size > page->max_bytes))
    {
      page->more = TRUE;
      return DEVBG_RECORD_FULL;
    }
  if (!devbg_records_writer_add (&page->writer, record, size))
    return DEVBG_RECORD_DAMAGED;
  page->records++;
  page->last_cursor = cursor;
  return DEVBG_RECORD_TAKEN;
}

/* ---- the heap after long lists ----
 *
 * A page of a long list (up to 1 MiB, and GDBus's copies of it) is
 * allocated and freed whole. glibc keeps a freed block that large in the
 * heap for the next (its mmap threshold rises to the block's size),
 * which spares the next page its page faults: mapping and unmapping
 * every page was a sixth of devbgd's time for a list of 10,000. It also
 * keeps devbgd's memory at its high-water mark; so once no large page
 * has been answered for HEAP_TRIM_DELAY_MS, devbgd gives its free memory
 * back to the kernel (malloc_trim(), which also releases the free pages
 * inside the heap). */

#define HEAP_TRIM_DELAY_MS   1000
#define HEAP_TRIM_PAGE_BYTES (128 * 1024)
#define HEAP_TRIM_MAX_DELAY_MS 5000

static gboolean
on_heap_trim (gpointer data)
{
  DevbgDaemon *daemon = data;

  daemon->heap_trim_source = 0;
  daemon->heap_untrimmed_since = 0;
  g_debug ("giving the heap's free memory back to the kernel");
  malloc_trim (0);
  return G_SOURCE_REMOVE;
}

/* After a reply of @size bytes: the trim waits until large replies stop,
 * but not past HEAP_TRIM_MAX_DELAY_MS after the first since the last
 * trim: a caller asking for one large page a second (a hostile-user
 * review) kept devbgd at its high-water mark for as long as it went on. */
static void
trim_heap_after (DevbgDaemon *daemon, gsize size)
{
  gint64 now = g_get_monotonic_time ();

  if (size < HEAP_TRIM_PAGE_BYTES)
    return;
  if (daemon->heap_untrimmed_since == 0)
    daemon->heap_untrimmed_since = now;
  else if (now - daemon->heap_untrimmed_since >= (gint64) HEAP_TRIM_MAX_DELAY_MS * 1000 &&
           daemon->heap_trim_source != 0)
    return; /* the trim already due stays due */
  g_clear_handle_id (&daemon->heap_trim_source, g_source_remove);
  daemon->heap_trim_source = g_timeout_add (HEAP_TRIM_DELAY_MS, on_heap_trim, daemon);
}

/* A user's pages not yet written to the bus (devbg-reply-budget.h): at
 * most this many bytes, or 8 pages of MaxReplyBytes if more. */
#define REPLY_BUDGET_BYTES (16 * 1024 * 1024)

/* Answers "(ays)" with @bytes and where the next page starts ("" at the
 * end), counted against the caller's pages waiting to be written. */
static void
return_packed (Call *call, GBytes *bytes, gboolean more, gint64 last_cursor)
{
  g_autofree char *next = more ? g_strdup_printf ("%" G_GINT64_FORMAT, last_cursor)
                               : g_strdup ("");
  g_autoptr(GDBusMethodInvocation) invocation = NULL;
  g_autoptr(GDBusMessage) reply = NULL;
  GDBusMessage *message = g_dbus_method_invocation_get_message (call->invocation);
  gsize size = g_bytes_get_size (bytes);
  DevbgReplyCharge *charge;

  if (g_dbus_message_get_flags (message) & G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED)
    {
      g_clear_object (&call->invocation);
      return;
    }
  charge = devbg_reply_budget_charge (call->daemon->reply_budget, call->caller->uid, size,
                                      MAX ((gsize) REPLY_BUDGET_BYTES,
                                           8 * (gsize) call->daemon->config.max_reply_bytes));
  if (charge == NULL)
    {
      return_new_error (call, DEVBG_ERROR_LIMIT_EXCEEDED,
                        "too many pages of uid %u wait to be read; read them first",
                        (unsigned) call->caller->uid);
      return;
    }
  trim_heap_after (call->daemon, size);
  invocation = g_steal_pointer (&call->invocation);
  reply = g_dbus_message_new_method_reply (message);
  g_dbus_message_set_body (reply, g_variant_new ("(@ays)",
    g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE), next));
  /* Dropped with the reply, once GDBus has written it. */
  g_object_set_data_full (G_OBJECT (reply), "devbg-reply-charge", charge,
                          devbg_reply_charge_release);
  g_dbus_connection_send_message (g_dbus_method_invocation_get_connection (invocation), reply,
                                  G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL, NULL);
}

/* ---- History, pending events, stored consent: pages, read ahead ----
 *
 * A caller that reads one of these lists to its end asks for page after
 * page. Once a page is answered, devbgd (idle while it crosses the bus,
 * and while the caller decodes it) packs the next one at low priority
 * and keeps it, for that caller and position only, while no row of the
 * database changes (devbg-read-ahead.h). At most READ_AHEAD_MAX_PAGES
 * pages (READ_AHEAD_MAX_BYTES) are kept, as many being packed, none kept
 * longer than READ_AHEAD_KEEP_MS. */

#define READ_AHEAD_MAX_PAGES 8
#define READ_AHEAD_MAX_BYTES (8 * 1024 * 1024)
#define READ_AHEAD_KEEP_MS   2000

typedef enum {
  LIST_EVENTS,
  LIST_HISTORY,
  LIST_PERMISSIONS,
} ListKind;

static const char *const list_kind_names[] = { "events", "history", "permissions" };

/* One page of a long list as asked for: by whom (whose identity is fixed
 * with the connection), of what, from where. Owns its strings. */
typedef struct {
  DevbgDaemon      *daemon;
  ListKind          kind;
  char             *sender;
  guint32           uid;
  char             *app_id;  /* NULL for no app identity */
  gboolean          all;     /* History, permissions: every user's */
  guint             limit;   /* the most records a page holds */
  gint64            cursor;
} ListQuery;

static void
list_query_free (ListQuery *q)
{
  g_free (q->sender);
  g_free (q->app_id);
  g_free (q);
}

static char *
list_query_key (const ListQuery *q)
{
  /* Starts with the sender and a newline: devbg_read_ahead_forget_sender(). */
  return g_strdup_printf ("%s\n%s\n%u\n%" G_GINT64_FORMAT, q->sender,
                          list_kind_names[q->kind], q->limit, q->cursor);
}

/* Packs the page @q asks for from the store. */
static gboolean
list_query_fill (const ListQuery *q, DevbgReadAheadPage *out, GError **error)
{
  DevbgStore *store = q->daemon->store;
  PackedPage page;
  gboolean ok;
  DevbgListScope scope = { .all = q->all, .uid = q->uid, .app_id = q->app_id };
  DevbgOwner owner = { .uid = q->uid, .app_id = q->app_id };

  switch (q->kind)
    {
    case LIST_EVENTS:
      /* Typical events are about 130 bytes. */
      packed_page_init (&page, q->daemon, DEVBG_EVENT_FIELDS, q->limit, q->cursor, 160);
      ok = devbg_store_foreach_event (store, &owner, q->cursor, packed_page_add, &page, error);
      break;
    case LIST_HISTORY:
      /* Typical entries are about 200 bytes. */
      packed_page_init (&page, q->daemon, DEVBG_HISTORY_FIELDS, q->limit, q->cursor, 256);
      ok = devbg_store_foreach_history (store, &scope, q->cursor, packed_page_add, &page, error);
      break;
    case LIST_PERMISSIONS:
    default:
      /* Typical consents are about 50 bytes. */
      packed_page_init (&page, q->daemon, DEVBG_PERMISSION_FIELDS, q->limit, q->cursor, 64);
      ok = devbg_store_foreach_consent (store, &scope, q->cursor, packed_page_add, &page, error);
      break;
    }
  if (!ok)
    {
      g_byte_array_unref (page.bytes);
      return FALSE;
    }
  *out = (DevbgReadAheadPage) {
    .bytes = g_byte_array_free_to_bytes (page.bytes),
    .more = page.more,
    .last_cursor = page.last_cursor,
  };
  return TRUE;
}

static gboolean
on_read_ahead (gpointer data)
{
  ListQuery *q = data;
  DevbgDaemon *daemon = q->daemon;
  g_autoptr(GError) error = NULL;
  gpointer stolen_key = NULL;
  DevbgReadAheadPage page;

  if (list_query_fill (q, &page, &error))
    {
      g_autofree char *key = list_query_key (q);

      devbg_read_ahead_put (daemon->read_ahead, key, devbg_store_get_generation (daemon->store),
                            &page);
      g_bytes_unref (page.bytes);
    }
  /* An error is not said: the caller's own call, if it comes, packs the
   * page again and answers it. Done: out of the table without removing
   * this source, which is returning. */
  g_hash_table_steal_extended (daemon->reading_ahead, q->sender, &stolen_key, NULL);
  g_free (stolen_key);
  return G_SOURCE_REMOVE;
}

static void
remove_source (gpointer id)
{
  g_source_remove (GPOINTER_TO_UINT (id));
}

/* Packs the page after @q's, whose answer ended at @last_cursor, once
 * devbgd is idle: one at a time per caller, and a bounded number. */
static void
read_ahead (const ListQuery *q, gint64 last_cursor)
{
  DevbgDaemon *daemon = q->daemon;
  ListQuery *next;
  guint id;

  if (g_hash_table_contains (daemon->reading_ahead, q->sender) ||
      g_hash_table_size (daemon->reading_ahead) >= READ_AHEAD_MAX_PAGES)
    return;
  next = g_new0 (ListQuery, 1);
  *next = *q;
  next->sender = g_strdup (q->sender);
  next->app_id = g_strdup (q->app_id);
  next->cursor = last_cursor;
  id = g_idle_add_full (G_PRIORITY_LOW, on_read_ahead, next, (GDestroyNotify) list_query_free);
  g_hash_table_insert (daemon->reading_ahead, g_strdup (q->sender), GUINT_TO_POINTER (id));
}

/* Answers @q: the page read ahead for it when the database is as it was
 * then, else one packed now; then reads ahead the next. */
static void
return_list_page (Call *call, const ListQuery *q)
{
  DevbgDaemon *daemon = call->daemon;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = list_query_key (q);
  DevbgReadAheadPage page;

  if (!devbg_read_ahead_take (daemon->read_ahead, key,
                              devbg_store_get_generation (daemon->store), &page) &&
      !list_query_fill (q, &page, &error))
    {
      return_error (call, error);
      return;
    }
  /* Before the answer, which frees the invocation, and @q's sender with it. */
  if (page.more)
    read_ahead (q, page.last_cursor);
  return_packed (call, page.bytes, page.more, page.last_cursor);
  g_bytes_unref (page.bytes);
}

/* @kind's page after @cursor, of at most @limit records, as @call's
 * caller sees it: root without an app identity every user's (History and
 * stored consent, as devbg_runtime_may_see()), another its own. */
static ListQuery
list_query_of (Call *call, ListKind kind, guint limit, gint64 cursor)
{
  return (ListQuery) {
    .daemon = call->daemon,
    .kind = kind,
    .sender = (char *) call_sender (call),
    .uid = call->caller->uid,
    .app_id = call->caller->app_id,
    .all = call->caller->app_id == NULL && call->caller->uid == 0,
    .limit = limit,
    .cursor = cursor,
  };
}

static void
handle_list_registrations (Call *call, GVariant *params)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) page = NULL;
  const char *continuation;
  DevbgOwner owner;
  gint64 cursor, last_cursor;
  gboolean more;

  g_variant_get (params, "(&s)", &continuation);
  if (!require_app (call) || !parse_continuation (call, continuation, &cursor))
    return;
  owner = owner_of (call);
  /* Copied whole from the records the store keeps. */
  page = devbg_store_pack_registrations (call->daemon->store, &owner, cursor,
                                         call->daemon->config.max_reply_bytes, &last_cursor,
                                         &more, &error);
  if (page == NULL)
    {
      return_error (call, error);
      return;
    }
  return_packed (call, page, more, last_cursor);
}

static void
handle_unregister (Call *call, GVariant *params)
{
  const char *task_id;
  gboolean cancel_task;
  g_autoptr(GError) error = NULL;
  DevbgOwner owner;

  g_variant_get (params, "(&sb)", &task_id, &cancel_task);
  if (!require_app (call) || !check_uuid (call, "task ID", task_id))
    return;
  owner = owner_of (call);
  if (!devbg_store_remove_registration (call->daemon->store, &owner, task_id, &error))
    {
      return_error (call, error);
      return;
    }
  if (cancel_task && call->daemon->runtime != NULL)
    devbg_runtime_cancel_task (call->daemon->runtime, &owner, task_id);
  devbg_log_request (G_LOG_LEVEL_INFO, call->caller->app_id, task_id, NULL, call->caller->uid,
                     "app %s unregistered task %s (cancel_task %s)", call->caller->app_id,
                     task_id, cancel_task ? "true" : "false");
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation), NULL);
}

static DevbgCaller
caller_of (Call *call)
{
  return (DevbgCaller) {
    .sender = g_dbus_method_invocation_get_sender (call->invocation),
    .app_id = call->caller->app_id,
    .uid = call->caller->uid,
    .pid = call->caller->pid,
    .start_time = call->caller->stamp.start_time,
  };
}


static gboolean
require_runtime (Call *call)
{
  if (call->daemon->runtime != NULL)
    return TRUE;
  return_new_error (call, DEVBG_ERROR_FAILED, "devbgd is starting; try again");
  return FALSE;
}

static void
on_request_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(GError) error = NULL;
  DevbgRequestOutcome outcome = { 0 };

  if (!devbg_runtime_request_finish (DEVBG_RUNTIME (source), res, &outcome, &error))
    {
      return_error (call, error);
      return;
    }
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation),
                                         g_variant_new ("(usss)", (guint32) outcome.result,
                                                        outcome.reason,
                                                        outcome.instance_id ? outcome.instance_id : "",
                                                        outcome.app_detail ? outcome.app_detail : ""));
  devbg_request_outcome_clear (&outcome);
}

static void
handle_request (Call *call, GVariant *params)
{
  DevbgDaemon *daemon = call->daemon;
  const char *task_id, *device_id, *arguments;
  guint32 expected;
  g_autoptr(DevbgRegistrationRecord) reg = NULL;
  g_autoptr(GError) error = NULL;
  DevbgManifest *manifest;
  const DevbgEntryPoint *ep;
  DevbgCaller caller;
  DevbgRequest request;
  DevbgOwner owner;

  g_variant_get (params, "(&s&s&su)", &task_id, &device_id, &arguments, &expected);
  if (!require_app (call) || !require_runtime (call) || !check_uuid (call, "task ID", task_id) ||
      !check_text_argument (call, "device_id", device_id, MAX_DEVICE_ID))
    return;
  if (strlen (arguments) > MAX_ARGUMENTS)
    {
      return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT,
                        "arguments must be at most %d bytes (got %zu)", MAX_ARGUMENTS,
                        strlen (arguments));
      return;
    }
  owner = owner_of (call);
  reg = devbg_store_get_registration (daemon->store, &owner, task_id, &error);
  if (reg == NULL)
    {
      return_error (call, error);
      return;
    }
  if (reg->trigger == DEVBG_TRIGGER_USE && expected != 0)
    {
      return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT,
                        "a use trigger takes no expected duration (got %u)", expected);
      return;
    }
  if (expected > MAX_EXPECTED_DURATION)
    {
      return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT,
                        "expected_duration %u s is more than a day", expected);
      return;
    }
  /* The manifest decides today, not when the task was registered: an app
   * update may have dropped the entry point. The policies themselves are
   * devbg-decision.c's; this only says what the manifest holds. */
  manifest = caller_manifest (call);
  ep = manifest ? devbg_manifest_find_entry_point (manifest, reg->entry_point) : NULL;

  caller = caller_of (call);
  request = (DevbgRequest) {
    .task_id = reg->task_id, .name = reg->name, .entry_point = reg->entry_point,
    .executable = ep != NULL ? ep->executable : NULL,
    .entry_point_declared = ep != NULL && (ep->triggers & (1u << reg->trigger)) != 0,
    .manifest = manifest, .metadata = daemon->metadata,
    .trigger = reg->trigger, .device_id = device_id,
    .arguments = arguments, .expected_duration_s = expected,
  };
  call->async = TRUE;
  devbg_runtime_request_async (daemon->runtime, &caller, &request, on_request_done, call);
}

/* Answers with one packed page of the caller's pending events after
 * @cursor: thousands may wait for an app that was away, and it reads
 * them all at its start. */
static void
return_events_page (Call *call, gint64 cursor)
{
  ListQuery q = list_query_of (call, LIST_EVENTS, DEVBG_EVENTS_PAGE_MAX_ENTRIES, cursor);

  return_list_page (call, &q);
}

static void
handle_watch_events (Call *call, GVariant *params)
{
  g_autoptr(GError) error = NULL;
  DevbgCaller caller;

  (void) params;
  if (!require_app (call) || !require_runtime (call))
    return;
  caller = caller_of (call);
  if (!devbg_runtime_watch_events (call->daemon->runtime, &caller, &error))
    {
      return_error (call, error);
      return;
    }
  return_events_page (call, DEVBG_STORE_CURSOR_START);
}

static void
handle_list_events (Call *call, GVariant *params)
{
  const char *continuation;
  gint64 cursor;

  g_variant_get (params, "(&s)", &continuation);
  if (!require_app (call) || !require_runtime (call) ||
      !parse_continuation (call, continuation, &cursor))
    return;
  return_events_page (call, cursor);
}

static void
handle_acknowledge_events (Call *call, GVariant *params)
{
  g_autofree const char **ids = NULL;
  g_autoptr(GError) error = NULL;
  DevbgCaller caller;

  if (!require_app (call) || !require_runtime (call))
    return;
  g_variant_get (params, "(^a&s)", &ids);
  caller = caller_of (call);
  if (!devbg_runtime_acknowledge (call->daemon->runtime, &caller, ids, &error))
    {
      return_error (call, error);
      return;
    }
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation), NULL);
}

static void
handle_detach (Call *call, GVariant *params)
{
  const char *instance_id;
  g_autoptr(GError) error = NULL;
  DevbgCaller caller;

  g_variant_get (params, "(&s)", &instance_id);
  if (!require_app (call) || !require_runtime (call) ||
      !check_uuid (call, "instance ID", instance_id))
    return;
  caller = caller_of (call);
  if (!devbg_runtime_detach (call->daemon->runtime, &caller, instance_id, &error))
    {
      return_error (call, error);
      return;
    }
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation), NULL);
}

static void
handle_cancel (Call *call, GVariant *params)
{
  const char *instance_id;
  g_autoptr(GError) error = NULL;
  DevbgCaller caller;

  g_variant_get (params, "(&s)", &instance_id);
  if (!require_runtime (call) || !check_uuid (call, "instance ID", instance_id))
    return;
  caller = caller_of (call);
  if (!devbg_runtime_cancel (call->daemon->runtime, &caller, instance_id, &error))
    {
      return_error (call, error);
      return;
    }
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation), NULL);
}

static void
handle_list_tasks (Call *call, GVariant *params)
{
  g_autoptr(GPtrArray) list = NULL;
  DevbgCaller caller;
  GVariantBuilder b;

  (void) params;
  if (!require_runtime (call))
    return;
  caller = caller_of (call);
  list = devbg_runtime_list (call->daemon->runtime, &caller);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < list->len; i++)
    {
      g_variant_builder_open (&b, G_VARIANT_TYPE ("a{sv}"));
      devbg_instance_add_entries (g_ptr_array_index (list, i), &b);
      g_variant_builder_close (&b);
    }
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation),
                                         g_variant_new ("(aa{sv})", &b));
}

static void
handle_history (Call *call, GVariant *params)
{
  const char *continuation;
  guint32 limit;
  gint64 cursor;
  ListQuery q;

  g_variant_get (params, "(u&s)", &limit, &continuation);
  if (!parse_continuation (call, continuation, &cursor))
    return;
  if (limit == 0)
    limit = DEFAULT_HISTORY;
  q = list_query_of (call, LIST_HISTORY, MIN (limit, DEVBG_HISTORY_PAGE_MAX_ENTRIES), cursor);
  return_list_page (call, &q);
}

/* ---- consent agents and permissions ---- */

static void
on_agent_registered (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(GError) error = NULL;

  if (!devbg_consent_register_agent_finish (DEVBG_CONSENT (source), res, &error))
    {
      return_error (call, error);
      return;
    }
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation), NULL);
}

/* An app is never a consent agent: it would answer its own prompts. The
 * agent's session is the one its process is in (logind), not one it names. */
static void
handle_register_consent_agent (Call *call, GVariant *params)
{
  const char *path;

  g_variant_get (params, "(&o)", &path);
  if (call->caller->app_id != NULL)
    {
      return_new_error (call, DEVBG_ERROR_ACCESS_DENIED,
                        "app %s may not be a consent agent: it would answer its own prompts",
                        call->caller->app_id);
      return;
    }
  call->async = TRUE;
  devbg_consent_register_agent_async (call->daemon->consent,
                                      g_dbus_method_invocation_get_sender (call->invocation),
                                      path, call->caller->uid, (guint32) call->caller->pid,
                                      on_agent_registered, call);
}

static void
handle_unregister_consent_agent (Call *call, GVariant *params)
{
  g_autoptr(GError) error = NULL;
  const char *path;

  g_variant_get (params, "(&o)", &path);
  if (!devbg_consent_unregister_agent (call->daemon->consent,
                                       g_dbus_method_invocation_get_sender (call->invocation),
                                       path, &error))
    {
      return_error (call, error);
      return;
    }
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation), NULL);
}

/* Who sees and revokes which stored consent: root every user's, another
 * program its own user's, an app only its own user's of itself. */
static void
handle_list_permissions (Call *call, GVariant *params)
{
  const char *continuation;
  gint64 cursor;
  ListQuery q;

  g_variant_get (params, "(&s)", &continuation);
  if (!parse_continuation (call, continuation, &cursor))
    return;
  q = list_query_of (call, LIST_PERMISSIONS, DEVBG_PERMISSIONS_PAGE_MAX_ENTRIES, cursor);
  return_list_page (call, &q);
}

static void
handle_revoke_permission (Call *call, GVariant *params)
{
  g_autoptr(GError) error = NULL;
  const char *app_id, *model_id;
  gboolean every_model;
  DevbgOwner owner;
  guint32 uid;
  gint64 removed;
  guint canceled = 0;

  g_variant_get (params, "(u&s&s)", &uid, &app_id, &model_id);
  if (!check_text_argument (call, "app_id", app_id, MAX_REGISTRATION_NAME) ||
      (*model_id != '\0' && !check_text_argument (call, "model_id", model_id, MAX_DEVICE_ID)))
    return;
  if (uid != call->caller->uid && !(call->caller->uid == 0 && call->caller->app_id == NULL))
    {
      return_new_error (call, DEVBG_ERROR_ACCESS_DENIED,
                        "uid %u may not revoke the consent uid %u gave; only root may",
                        (unsigned) call->caller->uid, (unsigned) uid);
      return;
    }
  if (call->caller->app_id != NULL && strcmp (call->caller->app_id, app_id) != 0)
    {
      return_new_error (call, DEVBG_ERROR_ACCESS_DENIED,
                        "app %s may revoke only its own consent, not %s's",
                        call->caller->app_id, app_id);
      return;
    }
  every_model = strcmp (model_id, "*") == 0;
  owner = (DevbgOwner) { .uid = uid, .app_id = app_id };
  removed = devbg_store_remove_consent (call->daemon->store, &owner,
                                       every_model ? NULL : model_id, &error);
  if (removed < 0)
    {
      return_error (call, error);
      return;
    }
  if (removed == 0)
    {
      return_new_error (call, DEVBG_ERROR_NO_SUCH_PERMISSION,
                        "uid %u has given app %s no stored consent for %s%s", (unsigned) uid,
                        app_id, every_model ? "any device model" : "device model ",
                        every_model ? "" : (*model_id ? model_id : "(none)"));
      return;
    }
  if (call->daemon->runtime != NULL)
    canceled = devbg_runtime_cancel_for_consent (call->daemon->runtime, uid, app_id,
                                                 every_model ? NULL : model_id);
  g_info ("uid %u revoked %" G_GINT64_FORMAT " stored consent(s) of uid %u for %s (model %s); "
          "%u running task(s) canceled", (unsigned) call->caller->uid, removed, (unsigned) uid,
          app_id, model_id, canceled);
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation),
                                         g_variant_new ("(u)", (guint32) removed));
}

/* WatchTasks: ListTasks, and from now on TaskChanged/TaskEnded. */
static void
handle_watch_tasks (Call *call, GVariant *params)
{
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GError) error = NULL;
  DevbgCaller caller;
  GVariantBuilder b;

  (void) params;
  if (!require_runtime (call))
    return;
  caller = caller_of (call);
  list = devbg_runtime_watch_tasks (call->daemon->runtime, &caller, &error);
  if (list == NULL)
    {
      return_error (call, error);
      return;
    }
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < list->len; i++)
    g_variant_builder_add_value (&b, devbg_instance_to_variant (g_ptr_array_index (list, i)));
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation),
                                         g_variant_new ("(aa{sv})", &b));
}

/* ---- list channels (devbg-list-channel.h) ---- */

/* The methods a list channel serves: the lists whose pages are largest. */
static const char *const list_channel_methods[] = { "History", "ListPermissions", NULL };

static void
handle_open_list_channel (Call *call, GVariant *params)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  int fd;

  (void) params;
  fd = devbg_list_channels_open (call->daemon->list_channels, call_sender (call), call->caller,
                                 &error);
  if (fd < 0)
    {
      return_error (call, error);
      return;
    }
  fds = g_unix_fd_list_new_from_array (&fd, 1);
  g_dbus_method_invocation_return_value_with_unix_fd_list (g_steal_pointer (&call->invocation),
                                                           g_variant_new ("(h)", 0), fds);
}

typedef void (*MethodHandler) (Call *call, GVariant *params);

static const struct {
  const char   *name;
  MethodHandler handler;
} methods[] = {
  { "GetStatus", handle_get_status },
  { "Register", handle_register },
  { "ListRegistrations", handle_list_registrations },
  { "Unregister", handle_unregister },
  { "Request", handle_request },
  { "WatchEvents", handle_watch_events },
  { "ListEvents", handle_list_events },
  { "AcknowledgeEvents", handle_acknowledge_events },
  { "Detach", handle_detach },
  { "Cancel", handle_cancel },
  { "ListTasks", handle_list_tasks },
  { "History", handle_history },
  { "RegisterConsentAgent", handle_register_consent_agent },
  { "UnregisterConsentAgent", handle_unregister_consent_agent },
  { "ListPermissions", handle_list_permissions },
  { "RevokePermission", handle_revoke_permission },
  { "WatchTasks", handle_watch_tasks },
  { "OpenListChannel", handle_open_list_channel },
};

/* The handler of Manager method @method, or NULL. */
static MethodHandler
method_handler (const char *method)
{
  for (gsize i = 0; i < G_N_ELEMENTS (methods); i++)
    if (strcmp (methods[i].name, method) == 0)
      return methods[i].handler;
  return NULL;
}

/* ---- dispatch: the caller's identity, fixed per connection ---- */

typedef struct {
  Call         *call;
  MethodHandler handler;
  GVariant     *params;
} PendingCall;

/* A connection's identity: resolved once, from the bus's credentials and
 * the process they name, as soon as the connection appears. Calls that
 * arrive before that is done wait for it. */
typedef struct {
  DevbgIdentity *identity; /* NULL while resolving, or on failure */
  char          *failure;  /* why the credentials could not be read */
  GPtrArray     *waiting;  /* of PendingCall */
} Peer;

static void
pending_call_free (PendingCall *pending)
{
  if (pending->call->invocation != NULL)
    return_new_error (pending->call, DEVBG_ERROR_FAILED,
                      "devbgd stopped before the caller was identified");
  call_free (pending->call);
  g_variant_unref (pending->params);
  g_free (pending);
}

static Peer *
peer_new (void)
{
  Peer *peer = g_new0 (Peer, 1);

  peer->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_call_free);
  return peer;
}

static void
peer_free (Peer *peer)
{
  devbg_identity_free (peer->identity);
  g_free (peer->failure);
  g_ptr_array_unref (peer->waiting);
  g_free (peer);
}

/* ---- list calls on the bus: users in turn (devbg-fair-queue.h) ----
 *
 * A page of a long list costs devbgd milliseconds; served in the order
 * they came, one user's thousands of list calls made another user's wait
 * 15 s (a hostile-user review: 64 connections of 32 History calls). A
 * list channel serves one call at a time already. */

/* The most list calls of one user waiting for their turn. */
#define LIST_CALLS_MAX_WAITING 32

static gboolean
is_list_handler (MethodHandler handler)
{
  return handler == handle_history || handler == handle_list_permissions ||
         handler == handle_list_events || handler == handle_list_registrations;
}

/* A DevbgFairQueueServe. */
static void
serve_list_call (gpointer item, gpointer user_data)
{
  PendingCall *pending = item;

  (void) user_data;
  pending->handler (pending->call, pending->params);
  if (!pending->call->async)
    call_free (pending->call);
  g_variant_unref (pending->params);
  g_free (pending);
}

static void
queue_list_call (DevbgDaemon *daemon, Call *call, MethodHandler handler, GVariant *params)
{
  PendingCall *pending = g_new0 (PendingCall, 1);

  pending->call = call;
  pending->handler = handler;
  pending->params = g_variant_ref (params);
  if (devbg_fair_queue_push (daemon->list_calls, call->caller->uid, pending))
    return;
  return_new_error (call, DEVBG_ERROR_LIMIT_EXCEEDED,
                    "%u list calls of uid %u already wait for their turn; wait for their "
                    "answers", LIST_CALLS_MAX_WAITING, (unsigned) call->caller->uid);
  call_free (call);
  g_variant_unref (pending->params);
  g_free (pending);
}

/* Answers or runs one call of a resolved @peer: the handler runs only if
 * the connection's process is still the one that was identified. */
static void
dispatch (DevbgDaemon *daemon, Peer *peer, Call *call, MethodHandler handler, GVariant *params)
{
  g_autoptr(GError) error = NULL;

  if (peer->failure != NULL)
    {
      return_new_error (call, DEVBG_ERROR_FAILED, "%s", peer->failure);
      call_free (call);
      return;
    }
  /* An acknowledgement is served after its process has exited: an app
   * often quits right after its "completed" handler, and its last message
   * is then read after its end. Refused, the event would come again at the
   * app's next start. The connection keeps the identity it was given
   * while the process lived, and acknowledging only forgets that (uid,
   * app)'s own events. Any other call is refused, and so is any call
   * while the process runs another program (once it has exited, only its
   * connection's holders can still send, as for any app that quit). */
  if (!devbg_identity_check (daemon->proc_root, peer->identity, &error) &&
      !(handler == handle_acknowledge_events &&
        devbg_identity_has_exited (daemon->proc_root, peer->identity)))
    {
      g_warning ("refused %s from %s (pid %d, uid %u, app %s): %s",
                 g_dbus_method_invocation_get_method_name (call->invocation),
                 call_sender (call),
                 (int) peer->identity->pid, (unsigned) peer->identity->uid,
                 peer->identity->app_id ? peer->identity->app_id : "-", error->message);
      return_error (call, error);
      call_free (call);
      return;
    }
  call->caller = devbg_identity_copy (peer->identity);
  /* A program of the user that is no app is a tool (devbgctl), with its
   * user's rights over every app of theirs; a sandbox is not: one that is
   * no app devbgd knows (its app ships no devbg manifest, or its
   * .flatpak-info is not trusted) may only ask who devbgd takes it for. */
  if (call->caller->sandboxed && call->caller->app_id == NULL &&
      strcmp (g_dbus_method_invocation_get_method_name (call->invocation), "GetStatus") != 0)
    {
      return_new_error (call, DEVBG_ERROR_UNKNOWN_APP,
                        "the caller (pid %d, uid %u) is a sandbox that is no app devbgd knows, "
                        "and has no rights of its user's own programs: %s",
                        (int) call->caller->pid, (unsigned) call->caller->uid,
                        call->caller->detail);
      call_free (call);
      return;
    }
  g_debug ("%s from %s: pid %d uid %u app %s (%s)",
           g_dbus_method_invocation_get_method_name (call->invocation),
           call_sender (call), (int) call->caller->pid,
           (unsigned) call->caller->uid, call->caller->app_id ? call->caller->app_id : "-",
           call->caller->detail);
  if (call->channel == NULL && is_list_handler (handler))
    {
      queue_list_call (daemon, call, handler, params);
      return;
    }
  handler (call, params);
  if (!call->async)
    call_free (call);
}

/* A call on a list channel: a DevbgListChannelServe. It runs as its
 * opener's bus calls do, with the identity that connection was given. */
static void
serve_list_channel_call (gpointer user_data, const DevbgIdentity *opener, const char *key,
                         GDBusMethodInvocation *invocation)
{
  DevbgDaemon *daemon = user_data;
  const char *method = g_dbus_method_invocation_get_method_name (invocation);
  MethodHandler handler = method_handler (method);
  Peer peer = { .identity = (DevbgIdentity *) opener };
  Call *call;

  g_return_if_fail (handler != NULL);
  call = g_new0 (Call, 1);
  call->daemon = g_object_ref (daemon);
  call->invocation = invocation;
  call->channel = key;
  dispatch (daemon, &peer, call, handler, g_dbus_method_invocation_get_parameters (invocation));
}

/* What was kept for list channel @key: its pages read ahead. */
static void
on_list_channel_closed (gpointer user_data, const char *key)
{
  DevbgDaemon *daemon = user_data;

  if (daemon->reading_ahead != NULL)
    g_hash_table_remove (daemon->reading_ahead, key);
  if (daemon->read_ahead != NULL)
    devbg_read_ahead_forget_sender (daemon->read_ahead, key);
}

static void load_trusted_files (DevbgDaemon *daemon);

/* At most this often (per devbgd, whoever calls), a caller that is no app
 * makes devbgd resolve the manifests' missing executables, or reload the
 * manifests for one that appeared: no caller makes devbgd stat files or
 * reread its directories at will. */
#define LATE_EXECUTABLE_INTERVAL_US G_USEC_PER_SEC

static gboolean
late_check_allowed (gint64 *last_us)
{
  gint64 now = g_get_monotonic_time ();

  if (*last_us != 0 && now - *last_us < LATE_EXECUTABLE_INTERVAL_US)
    return FALSE;
  *last_us = now;
  return TRUE;
}

/* The identity of process @pid. A manifest may name an executable that is
 * installed only after the manifest was loaded (a package's files in any
 * order, a vendor's manifest written first): a caller running such an
 * executable makes devbgd reload the manifests, with every rule of a load
 * (one executable, one app; no interpreter), and identify it again. */
static DevbgIdentity *
resolve_identity (DevbgDaemon *daemon, pid_t pid, uid_t uid)
{
  DevbgIdentity *id = devbg_identity_resolve (daemon->proc_root, pid, uid, daemon->apps,
                                              daemon->flatpak);
  gboolean may_resolve;

  if (id->app_id != NULL || id->exe == NULL || !id->stamped || id->flatpak != NULL ||
      g_str_has_suffix (id->exe, " (deleted)"))
    return id;
  may_resolve = late_check_allowed (&daemon->late_exe_resolved_us);
  if (!devbg_manifests_executable_appeared (daemon->apps, id->exe, may_resolve) ||
      !late_check_allowed (&daemon->late_exe_reload_us))
    return id;
  g_info ("%s, named by a manifest, did not exist when the manifests were loaded; "
          "reloading them", id->exe);
  load_trusted_files (daemon);
  devbg_identity_free (id);
  return devbg_identity_resolve (daemon->proc_root, pid, uid, daemon->apps, daemon->flatpak);
}

typedef struct {
  DevbgDaemon *daemon;
  char        *name;
} Resolving;

static void
on_credentials (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Resolving *resolving = user_data;
  g_autoptr(DevbgDaemon) daemon = resolving->daemon;
  g_autofree char *name = resolving->name;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) creds = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) waiting = NULL;
  guint32 pid = 0, uid = G_MAXUINT32;
  Peer *peer;

  g_free (resolving);
  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  peer = daemon->identities != NULL ? g_hash_table_lookup (daemon->identities, name) : NULL;
  if (peer == NULL)
    return; /* it left meanwhile */
  if (reply == NULL)
    peer->failure = g_strdup_printf ("cannot read the caller's credentials: %s", error->message);
  else
    {
      g_variant_get (reply, "(@a{sv})", &creds);
      if (!g_variant_lookup (creds, "ProcessID", "u", &pid) ||
          !g_variant_lookup (creds, "UnixUserID", "u", &uid))
        peer->failure = g_strdup ("the bus did not tell the caller's process and user");
      else
        peer->identity = resolve_identity (daemon, (pid_t) pid, (uid_t) uid);
    }
  g_debug ("connection %s: pid %u uid %u app %s (%s)", name, pid, uid,
           peer->identity && peer->identity->app_id ? peer->identity->app_id : "-",
           peer->identity ? peer->identity->detail : peer->failure);

  waiting = g_steal_pointer (&peer->waiting);
  g_ptr_array_set_free_func (waiting, NULL);
  peer->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_call_free);
  for (guint i = 0; i < waiting->len; i++)
    {
      PendingCall *pending = g_ptr_array_index (waiting, i);
      g_autoptr(GVariant) params = pending->params;

      dispatch (daemon, peer, pending->call, pending->handler, params);
      g_free (pending);
    }
}

/* Starts fixing the identity of connection @name, once. dbus-daemon 1.14
 * (Debian 12) tells the pid but no ProcessFD (pidfd), so the process is
 * pinned by its start time and executable instead (DevbgProcessStamp). */
static Peer *
peer_start (DevbgDaemon *daemon, const char *name)
{
  Peer *peer = g_hash_table_lookup (daemon->identities, name);
  Resolving *resolving;

  if (peer != NULL)
    return peer;
  peer = peer_new ();
  g_hash_table_insert (daemon->identities, g_strdup (name), peer);
  resolving = g_new0 (Resolving, 1);
  resolving->daemon = g_object_ref (daemon);
  resolving->name = g_strdup (name);
  g_dbus_connection_call (daemon->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionCredentials",
                          g_variant_new ("(s)", name), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_credentials, resolving);
  return peer;
}

/* Runs @handler for @invocation once its sender is identified. */
static void
route (DevbgDaemon *daemon, MethodHandler handler, GVariant *params,
       GDBusMethodInvocation *invocation)
{
  Call *call = g_new0 (Call, 1);
  Peer *peer;

  call->daemon = g_object_ref (daemon);
  call->invocation = invocation; /* transfer full from GDBus: answering it consumes it */

  /* Normally known since NameOwnerChanged; a connection older than
   * devbgd's subscription is fixed at its first call. */
  peer = peer_start (daemon, g_dbus_method_invocation_get_sender (invocation));
  if (peer->identity != NULL || peer->failure != NULL)
    {
      dispatch (daemon, peer, call, handler, params);
      return;
    }
  {
    PendingCall *pending = g_new0 (PendingCall, 1);
    pending->call = call;
    pending->handler = handler;
    pending->params = g_variant_ref (params);
    g_ptr_array_add (peer->waiting, pending);
  }
}

static void
on_method_call (GDBusConnection *connection, const char *sender, const char *path,
                const char *iface, const char *method, GVariant *params,
                GDBusMethodInvocation *invocation, gpointer user_data)
{
  DevbgDaemon *daemon = user_data;
  MethodHandler handler = method_handler (method);

  (void) connection;
  (void) sender;
  (void) path;
  (void) iface;
  if (handler == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR,
                                             G_DBUS_ERROR_UNKNOWN_METHOD,
                                             "no method %s", method);
      return;
    }
  route (daemon, handler, params, invocation);
}

/* ---- org.devbg.Devbg1.Devices: what the caller may see ---- */

static DevbgDevicesViewer
viewer_of (Call *call)
{
  return (DevbgDevicesViewer) {
    .is_app = call->caller->app_id != NULL,
    .app_id = call->caller->app_id,
    .manifest = call->caller->app_id != NULL ? caller_manifest (call) : NULL,
  };
}

static void
handle_list_devices (Call *call, GVariant *params)
{
  DevbgDevicesViewer viewer = viewer_of (call);
  const char *continuation;

  g_variant_get (params, "(&s)", &continuation);
  devbg_devices_return_list (call->daemon->devices, g_steal_pointer (&call->invocation), &viewer,
                             continuation, call->daemon->config.max_reply_bytes);
}

static void
handle_get_device (Call *call, GVariant *params)
{
  DevbgDevicesViewer viewer = viewer_of (call);

  (void) params;
  devbg_devices_return_device (call->daemon->devices, g_steal_pointer (&call->invocation),
                               &viewer);
}

static void
route_devices_call (const char *method, GDBusMethodInvocation *invocation, gpointer user_data)
{
  DevbgDaemon *daemon = user_data;

  route (daemon, g_str_equal (method, "ListDevices") ? handle_list_devices : handle_get_device,
         g_dbus_method_invocation_get_parameters (invocation), invocation);
}

static GVariant *
on_get_property (GDBusConnection *connection, const char *sender, const char *path,
                 const char *iface, const char *property, GError **error, gpointer user_data)
{
  (void) connection; (void) sender; (void) path; (void) iface; (void) user_data;
  if (strcmp (property, "Version") == 0)
    return g_variant_new_string (PACKAGE_VERSION);
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no property %s", property);
  return NULL;
}

static const GDBusInterfaceVTable manager_vtable = {
  .method_call = on_method_call,
  .get_property = on_get_property,
};

/* ---- life cycle ---- */

static void
log_problems (GPtrArray *problems, const char *what)
{
  for (guint i = 0; i < problems->len; i++)
    g_warning ("skipped %s: %s", what, (const char *) g_ptr_array_index (problems, i));
}

/* Logs how @now differs from @before (app ID -> DevbgManifest), so that
 * an administrator sees what an install or removal did. */
static void
log_manifest_changes (GHashTable *before, GHashTable *now)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, now);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      DevbgManifest *m = value, *old = before ? g_hash_table_lookup (before, key) : NULL;
      g_autofree char *what = NULL;

      /* Said again when a fix of the same file changed what it declares. */
      if (old != NULL && strcmp (old->origin, m->origin) == 0 &&
          old->entry_points->len == m->entry_points->len && old->n_ignored == m->n_ignored)
        continue;
      what = devbg_manifest_describe (m);
      g_info ("app %s: manifest %s loaded: %s", m->app_id, m->origin, what);
    }
  if (before == NULL)
    return;
  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (now, key))
      g_info ("app %s: no manifest any more (%s removed or refused); new connections of "
              "it are unknown", (const char *) key, ((DevbgManifest *) value)->origin);
}

/* (Re)reads every manifest and metadata file. Connections keep the
 * identity they were given; what changes is what new connections are,
 * and what each app's manifest declares from now on. */
static void
load_trusted_files (DevbgDaemon *daemon)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  GHashTable *apps;

  apps = devbg_manifests_load ((const char *const *) daemon->manifest_dirs, problems);
  log_problems (problems, "manifest");
  log_manifest_changes (daemon->apps, apps);
  g_clear_pointer (&daemon->apps, g_hash_table_unref);
  daemon->apps = apps;
  g_ptr_array_set_size (problems, 0);
  g_clear_pointer (&daemon->metadata, g_ptr_array_unref);
  daemon->metadata = devbg_metadata_load ((const char *const *) daemon->metadata_dirs, problems);
  log_problems (problems, "device metadata");
  g_info ("loaded %u app manifests and %u device metadata files",
          g_hash_table_size (daemon->apps), daemon->metadata->len);
}

/* A package writes several files in a row: one reload a moment after the
 * first change covers them all, and no timer runs while nothing changes. */
#define RELOAD_DELAY_MS 200

static gboolean
on_reload (gpointer user_data)
{
  DevbgDaemon *daemon = user_data;

  daemon->reload_source = 0;
  g_info ("a manifest or metadata directory changed; reloading");
  load_trusted_files (daemon);
  return G_SOURCE_REMOVE;
}

static void
on_trusted_dir_changed (GFileMonitor *monitor, GFile *file, GFile *other,
                        GFileMonitorEvent event, gpointer user_data)
{
  DevbgDaemon *daemon = user_data;

  (void) monitor; (void) file; (void) other;
  if (event == G_FILE_MONITOR_EVENT_PRE_UNMOUNT || event == G_FILE_MONITOR_EVENT_UNMOUNTED)
    return;
  if (daemon->reload_source == 0)
    daemon->reload_source = g_timeout_add (RELOAD_DELAY_MS, on_reload, daemon);
}

static void
watch_dirs (DevbgDaemon *daemon, GStrv dirs)
{
  for (char **d = dirs; d != NULL && *d != NULL; d++)
    {
      g_autoptr(GFile) dir = g_file_new_for_path (*d);
      g_autoptr(GError) error = NULL;
      GFileMonitor *monitor = g_file_monitor_directory (dir, G_FILE_MONITOR_WATCH_MOVES, NULL,
                                                        &error);
      if (monitor == NULL)
        {
          g_warning ("cannot watch %s for changes (a restart is needed to see them): %s", *d,
                     error->message);
          continue;
        }
      g_signal_connect (monitor, "changed", G_CALLBACK (on_trusted_dir_changed), daemon);
      g_ptr_array_add (daemon->monitors, monitor);
    }
}

/* An app's deployment changed: its running tasks belong to a program that
 * is gone (Uninstall) or replaced (ServicingUpdate), as on Windows. */
static void
on_flatpak_changed (const DevbgFlatpakOrigin *before, const DevbgFlatpakOrigin *after,
                    gpointer user_data)
{
  DevbgDaemon *daemon = user_data;

  if (daemon->runtime != NULL)
    devbg_runtime_cancel_flatpak (daemon->runtime, before,
                                  after == NULL ? DEVBG_CANCEL_UNINSTALL
                                                : DEVBG_CANCEL_SERVICING_UPDATE);
}

DevbgDaemon *
devbg_daemon_new (const DevbgDaemonOptions *options, GError **error)
{
  g_autoptr(DevbgDaemon) daemon = g_object_new (DEVBG_TYPE_DAEMON, NULL);
  g_autoptr(GBytes) xml = NULL;

  daemon->config = options->config;
  daemon->proc_root = g_strdup (options->proc_root ? options->proc_root : "/proc");

  xml = g_resources_lookup_data ("/org/devbg/org.devbg.Devbg1.xml", 0, error);
  if (xml == NULL)
    return NULL;
  daemon->introspection = g_dbus_node_info_new_for_xml (g_bytes_get_data (xml, NULL), error);
  if (daemon->introspection == NULL)
    return NULL;

  daemon->store = devbg_store_open (options->state_dir, error);
  if (daemon->store == NULL)
    return NULL;

  daemon->manifest_dirs = g_strdupv (options->manifest_dirs);
  daemon->metadata_dirs = g_strdupv (options->metadata_dirs);
  /* Watched before the first load, so that nothing installed in between
   * is missed. */
  watch_dirs (daemon, daemon->manifest_dirs);
  watch_dirs (daemon, daemon->metadata_dirs);
  load_trusted_files (daemon);
  if (options->flatpak_system_dir != NULL || options->flatpak_user_dir != NULL)
    daemon->flatpak = devbg_flatpak_new (options->flatpak_system_dir, options->flatpak_user_dir,
                                         options->flatpak_home_dir, on_flatpak_changed, daemon);
  return g_steal_pointer (&daemon);
}

static void
on_name_owner_changed (GDBusConnection *connection, const char *sender, const char *path,
                       const char *iface, const char *signal, GVariant *params,
                       gpointer user_data)
{
  DevbgDaemon *daemon = user_data;
  const char *name, *old_owner, *new_owner;

  (void) connection; (void) sender; (void) path; (void) iface; (void) signal;
  g_variant_get (params, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (name[0] != ':')
    return;
  if (new_owner[0] == '\0')
    {
      g_hash_table_remove (daemon->identities, name);
      g_hash_table_remove (daemon->reading_ahead, name);
      devbg_read_ahead_forget_sender (daemon->read_ahead, name);
      if (daemon->list_channels != NULL)
        devbg_list_channels_forget_sender (daemon->list_channels, name);
      if (daemon->runtime != NULL)
        devbg_runtime_peer_vanished (daemon->runtime, name);
    }
  else if (old_owner[0] == '\0')
    peer_start (daemon, name); /* fixed now, before it can exec anything else */
}

gboolean
devbg_daemon_export (DevbgDaemon *daemon, GDBusConnection *connection, GError **error)
{
  GDBusInterfaceInfo *iface =
    g_dbus_node_info_lookup_interface (daemon->introspection, DEVBG_DBUS_MANAGER_INTERFACE);

  daemon->connection = g_object_ref (connection);
  daemon->consent = devbg_consent_new (&daemon->config, daemon->store, connection);
  daemon->name_owner_subscription =
    g_dbus_connection_signal_subscribe (connection, "org.freedesktop.DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged",
                                        "/org/freedesktop/DBus", NULL,
                                        G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed,
                                        daemon, NULL);
  daemon->list_channels = devbg_list_channels_new (iface, list_channel_methods,
                                                   serve_list_channel_call,
                                                   on_list_channel_closed, daemon);
  daemon->registration_id =
    g_dbus_connection_register_object (connection, DEVBG_DBUS_PATH, iface, &manager_vtable,
                                       daemon, NULL, error);
  return daemon->registration_id != 0;
}

void
devbg_daemon_set_devices (DevbgDaemon *daemon, DevbgDevices *devices)
{
  g_return_if_fail (daemon->connection != NULL && daemon->runtime == NULL);
  daemon->devices = g_object_ref (devices);
  devbg_devices_set_router (devices, route_devices_call, daemon);
  daemon->runtime = devbg_runtime_new (&daemon->config, daemon->store, devices,
                                       daemon->connection, DEVBG_DBUS_PATH,
                                       DEVBG_DBUS_MANAGER_INTERFACE);
  devbg_runtime_set_consent (daemon->runtime, daemon->consent);
  devbg_runtime_set_flatpak (daemon->runtime, daemon->flatpak);
  devbg_runtime_recover (daemon->runtime);
}

void
devbg_daemon_shutdown (DevbgDaemon *daemon)
{
  /* Prompts first: a request waiting for its answer is denied, not lost. */
  if (daemon->consent != NULL)
    devbg_consent_shutdown (daemon->consent);
  if (daemon->runtime != NULL)
    devbg_runtime_shutdown (daemon->runtime);
}

static void
devbg_daemon_dispose (GObject *object)
{
  DevbgDaemon *daemon = DEVBG_DAEMON (object);

  g_clear_object (&daemon->runtime);
  g_clear_object (&daemon->consent);
  if (daemon->devices != NULL)
    devbg_devices_set_router (daemon->devices, NULL, NULL);
  g_clear_object (&daemon->devices);
  if (daemon->registration_id != 0)
    {
      g_dbus_connection_unregister_object (daemon->connection, daemon->registration_id);
      daemon->registration_id = 0;
    }
  if (daemon->name_owner_subscription != 0)
    {
      g_dbus_connection_signal_unsubscribe (daemon->connection, daemon->name_owner_subscription);
      daemon->name_owner_subscription = 0;
    }
  /* Before the read-ahead tables, which closing a channel clears. */
  g_clear_pointer (&daemon->list_channels, devbg_list_channels_free);
  g_clear_pointer (&daemon->identities, g_hash_table_unref);
  g_clear_pointer (&daemon->reading_ahead, g_hash_table_unref);
  g_clear_pointer (&daemon->read_ahead, devbg_read_ahead_free);
  g_clear_handle_id (&daemon->reload_source, g_source_remove);
  g_clear_handle_id (&daemon->heap_trim_source, g_source_remove);
  g_clear_pointer (&daemon->list_calls, devbg_fair_queue_free);
  g_clear_pointer (&daemon->reply_budget, devbg_reply_budget_unref);
  for (guint i = 0; daemon->monitors != NULL && i < daemon->monitors->len; i++)
    g_signal_handlers_disconnect_by_data (g_ptr_array_index (daemon->monitors, i), daemon);
  g_clear_pointer (&daemon->monitors, g_ptr_array_unref);
  g_clear_object (&daemon->connection);
  g_clear_object (&daemon->store);
  g_clear_pointer (&daemon->apps, g_hash_table_unref);
  g_clear_pointer (&daemon->flatpak, devbg_flatpak_free);
  g_clear_pointer (&daemon->metadata, g_ptr_array_unref);
  g_clear_pointer (&daemon->introspection, g_dbus_node_info_unref);
  G_OBJECT_CLASS (devbg_daemon_parent_class)->dispose (object);
}

static void
devbg_daemon_finalize (GObject *object)
{
  g_free (DEVBG_DAEMON (object)->proc_root);
  g_strfreev (DEVBG_DAEMON (object)->manifest_dirs);
  g_strfreev (DEVBG_DAEMON (object)->metadata_dirs);
  G_OBJECT_CLASS (devbg_daemon_parent_class)->finalize (object);
}

static void
devbg_daemon_class_init (DevbgDaemonClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_daemon_dispose;
  G_OBJECT_CLASS (klass)->finalize = devbg_daemon_finalize;
}

static void
devbg_daemon_init (DevbgDaemon *daemon)
{
  daemon->identities = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) peer_free);
  daemon->monitors = g_ptr_array_new_with_free_func (g_object_unref);
  daemon->read_ahead = devbg_read_ahead_new (READ_AHEAD_MAX_PAGES, READ_AHEAD_MAX_BYTES,
                                            READ_AHEAD_KEEP_MS);
  daemon->reading_ahead = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, remove_source);
  daemon->reply_budget = devbg_reply_budget_new ();
  daemon->list_calls = devbg_fair_queue_new (LIST_CALLS_MAX_WAITING, serve_list_call,
                                             (GDestroyNotify) pending_call_free, daemon);
}
