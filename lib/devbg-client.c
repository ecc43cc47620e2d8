/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-client.h"

#include <string.h>

#include "devbg-error.h"

#define BUS_NAME    "org.devbg.Devbg1"
#define OBJECT_PATH "/org/devbg/Devbg1"
#define IFACE       "org.devbg.Devbg1.Manager"

/* ---- DevbgClient ---- */

struct _DevbgClient {
  GObject          parent;
  GDBusConnection *connection;
};

G_DEFINE_TYPE (DevbgClient, devbg_client, G_TYPE_OBJECT)

static void
devbg_client_dispose (GObject *object)
{
  g_clear_object (&DEVBG_CLIENT (object)->connection);
  G_OBJECT_CLASS (devbg_client_parent_class)->dispose (object);
}

static void
devbg_client_class_init (DevbgClientClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_client_dispose;
  /* Registers the org.devbg.Devbg1.Error.* names, so that remote errors
   * arrive as DEVBG_ERROR codes. */
  (void) DEVBG_ERROR;
}

static void
devbg_client_init (DevbgClient *client)
{
  (void) client;
}

DevbgClient *
devbg_client_new_for_connection (GDBusConnection *connection)
{
  DevbgClient *client = g_object_new (DEVBG_TYPE_CLIENT, NULL);

  client->connection = g_object_ref (connection);
  return client;
}

DevbgClient *
devbg_client_new_sync (GCancellable *cancellable, GError **error)
{
  g_autoptr(GDBusConnection) connection = g_bus_get_sync (G_BUS_TYPE_SYSTEM, cancellable, error);

  if (connection == NULL)
    return NULL;
  return devbg_client_new_for_connection (connection);
}

GDBusConnection *
devbg_client_get_connection (DevbgClient *client)
{
  return client->connection;
}

static GVariant *
call_sync (DevbgClient *client, const char *method, GVariant *params,
           const GVariantType *reply_type, GCancellable *cancellable, GError **error)
{
  GVariant *reply = g_dbus_connection_call_sync (client->connection, BUS_NAME, OBJECT_PATH,
                                                 IFACE, method, params, reply_type,
                                                 G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                                                 error);
  if (reply == NULL && error != NULL && *error != NULL)
    g_dbus_error_strip_remote_error (*error);
  return reply;
}

GVariant *
devbg_client_get_status_sync (DevbgClient *client, GCancellable *cancellable, GError **error)
{
  g_autoptr(GVariant) reply = call_sync (client, "GetStatus", NULL, G_VARIANT_TYPE ("(a{sv})"),
                                         cancellable, error);
  GVariant *status;

  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(@a{sv})", &status);
  return status;
}

/* ---- DevbgTrigger ---- */

struct _DevbgTrigger {
  GObject          parent;
  DevbgTriggerType type;
};

G_DEFINE_TYPE (DevbgTrigger, devbg_trigger, G_TYPE_OBJECT)

static void devbg_trigger_class_init (DevbgTriggerClass *klass) { (void) klass; }
static void devbg_trigger_init (DevbgTrigger *trigger) { (void) trigger; }

static DevbgTrigger *
trigger_new (DevbgTriggerType type)
{
  DevbgTrigger *trigger = g_object_new (DEVBG_TYPE_TRIGGER, NULL);
  trigger->type = type;
  return trigger;
}

DevbgTrigger *devbg_use_trigger_new (void) { return trigger_new (DEVBG_TRIGGER_USE); }
DevbgTrigger *devbg_servicing_trigger_new (void) { return trigger_new (DEVBG_TRIGGER_SERVICING); }

DevbgTriggerType
devbg_trigger_get_trigger_type (DevbgTrigger *trigger)
{
  return trigger->type;
}

/* ---- DevbgRegistration ---- */

struct _DevbgRegistration {
  GObject          parent;
  DevbgClient     *client;
  char            *task_id;
  char            *name;
  char            *entry_point;
  DevbgTriggerType trigger;
};

G_DEFINE_TYPE (DevbgRegistration, devbg_registration, G_TYPE_OBJECT)

static void
devbg_registration_finalize (GObject *object)
{
  DevbgRegistration *reg = DEVBG_REGISTRATION (object);

  g_clear_object (&reg->client);
  g_free (reg->task_id);
  g_free (reg->name);
  g_free (reg->entry_point);
  G_OBJECT_CLASS (devbg_registration_parent_class)->finalize (object);
}

static void
devbg_registration_class_init (DevbgRegistrationClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = devbg_registration_finalize;
}

static void devbg_registration_init (DevbgRegistration *reg) { (void) reg; }

static DevbgRegistration *
registration_new (DevbgClient *client, const char *task_id, const char *name,
                  const char *entry_point, DevbgTriggerType trigger)
{
  DevbgRegistration *reg = g_object_new (DEVBG_TYPE_REGISTRATION, NULL);

  reg->client = g_object_ref (client);
  reg->task_id = g_strdup (task_id);
  reg->name = g_strdup (name);
  reg->entry_point = g_strdup (entry_point);
  reg->trigger = trigger;
  return reg;
}

const char *devbg_registration_get_task_id (DevbgRegistration *reg) { return reg->task_id; }
const char *devbg_registration_get_name (DevbgRegistration *reg) { return reg->name; }
const char *devbg_registration_get_entry_point (DevbgRegistration *reg) { return reg->entry_point; }
DevbgTriggerType devbg_registration_get_trigger_type (DevbgRegistration *reg) { return reg->trigger; }

gboolean
devbg_registration_unregister_sync (DevbgRegistration *reg, gboolean cancel_task,
                                    GCancellable *cancellable, GError **error)
{
  g_autoptr(GVariant) reply = call_sync (reg->client, "Unregister",
                                         g_variant_new ("(sb)", reg->task_id, cancel_task),
                                         G_VARIANT_TYPE_UNIT, cancellable, error);
  return reply != NULL;
}

GHashTable *
devbg_client_get_all_tasks_sync (DevbgClient *client, GCancellable *cancellable, GError **error)
{
  g_autoptr(GVariant) reply = call_sync (client, "ListRegistrations", NULL,
                                         G_VARIANT_TYPE ("(a(ssss))"), cancellable, error);
  g_autoptr(GVariantIter) iter = NULL;
  GHashTable *tasks;
  const char *task_id, *name, *entry_point, *trigger_str;

  if (reply == NULL)
    return NULL;
  tasks = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  g_variant_get (reply, "(a(ssss))", &iter);
  while (g_variant_iter_next (iter, "(&s&s&s&s)", &task_id, &name, &entry_point, &trigger_str))
    {
      DevbgTriggerType trigger = DEVBG_TRIGGER_USE;
      DevbgRegistration *reg;

      devbg_trigger_type_from_string (trigger_str, &trigger);
      reg = registration_new (client, task_id, name, entry_point, trigger);
      g_hash_table_insert (tasks, reg->task_id, reg);
    }
  return tasks;
}

DevbgRegistration *
devbg_client_find_task_sync (DevbgClient *client, const char *name, GCancellable *cancellable,
                             GError **error)
{
  g_autoptr(GHashTable) tasks = devbg_client_get_all_tasks_sync (client, cancellable, error);
  GHashTableIter iter;
  gpointer value;

  if (tasks == NULL)
    return NULL;
  g_hash_table_iter_init (&iter, tasks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (strcmp (devbg_registration_get_name (value), name) == 0)
      return g_object_ref (value);
  return NULL;
}

/* ---- DevbgTaskBuilder ---- */

struct _DevbgTaskBuilder {
  GObject       parent;
  char         *name;
  char         *entry_point;
  DevbgTrigger *trigger;
};

G_DEFINE_TYPE (DevbgTaskBuilder, devbg_task_builder, G_TYPE_OBJECT)

static void
devbg_task_builder_finalize (GObject *object)
{
  DevbgTaskBuilder *builder = DEVBG_TASK_BUILDER (object);

  g_free (builder->name);
  g_free (builder->entry_point);
  g_clear_object (&builder->trigger);
  G_OBJECT_CLASS (devbg_task_builder_parent_class)->finalize (object);
}

static void
devbg_task_builder_class_init (DevbgTaskBuilderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = devbg_task_builder_finalize;
}

static void devbg_task_builder_init (DevbgTaskBuilder *builder) { (void) builder; }

DevbgTaskBuilder *devbg_task_builder_new (void) { return g_object_new (DEVBG_TYPE_TASK_BUILDER, NULL); }

void
devbg_task_builder_set_name (DevbgTaskBuilder *builder, const char *name)
{
  g_free (builder->name);
  builder->name = g_strdup (name);
}

void
devbg_task_builder_set_task_entry_point (DevbgTaskBuilder *builder, const char *entry_point)
{
  g_free (builder->entry_point);
  builder->entry_point = g_strdup (entry_point);
}

void
devbg_task_builder_set_trigger (DevbgTaskBuilder *builder, DevbgTrigger *trigger)
{
  g_set_object (&builder->trigger, trigger);
}

DevbgRegistration *
devbg_task_builder_register_sync (DevbgTaskBuilder *builder, DevbgClient *client,
                                  GCancellable *cancellable, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  const char *task_id;

  if (builder->name == NULL || builder->entry_point == NULL || builder->trigger == NULL)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "a task needs a name, an entry point and a trigger before it is registered");
      return NULL;
    }
  reply = call_sync (client, "Register",
                     g_variant_new ("(sss)", builder->name, builder->entry_point,
                                    devbg_trigger_type_to_string (builder->trigger->type)),
                     G_VARIANT_TYPE ("(s)"), cancellable, error);
  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(&s)", &task_id);
  return registration_new (client, task_id, builder->name, builder->entry_point,
                           builder->trigger->type);
}
