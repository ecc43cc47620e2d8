/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "devbg-field-properties.h"
#include "devbg-task-info-private.h"

#include "devbg-enum-types.h"

struct _DevbgTaskInfo {
  GObject           parent;
  GVariant         *properties;
  DevbgTriggerType  trigger;
  gboolean          finished;
  /* The nine strings below: back to back in one allocation of its own
   * (@strings, task_info_set_strings()), or in the History page the entry
   * came from (@page, which every entry of the page holds: a page makes
   * thousands of these, and copying their strings was a third of making
   * them). */
  char *strings;
  GVariant *page;
  char *instance_id;
  char *task_id;
  char *app_id;
  char *name;
  char *entry_point;
  char *device_id;
  char *state;
  char *error_message;
  char *cancel_reason;
  guint32 uid;
  guint progress;
  gint64 started_us;
  guint limit_s;
  gint64 finished_us;
  gboolean success;
};

G_DEFINE_FINAL_TYPE (DevbgTaskInfo, devbg_task_info, G_TYPE_OBJECT)

static void
devbg_task_info_finalize (GObject *object)
{
  DevbgTaskInfo *info = DEVBG_TASK_INFO (object);

  g_clear_pointer (&info->properties, g_variant_unref);
  g_free (info->strings);
  g_clear_pointer (&info->page, g_variant_unref);
  G_OBJECT_CLASS (devbg_task_info_parent_class)->finalize (object);
}


/* Read-only properties, one per field, for bindings and GObject tools:
 * the same values as the getters (devbg-field-properties.h). */
static const DevbgFieldProperty field_properties[] = {
  { "instance-id", "the instance's ID", 's', NULL, G_STRUCT_OFFSET (DevbgTaskInfo, instance_id) },
  { "task-id", "the ID of the registration it runs", 's', NULL,
    G_STRUCT_OFFSET (DevbgTaskInfo, task_id) },
  { "app-id", "the app it belongs to", 's', NULL, G_STRUCT_OFFSET (DevbgTaskInfo, app_id) },
  { "name", "the registration's name", 's', NULL, G_STRUCT_OFFSET (DevbgTaskInfo, name) },
  { "entry-point", "the entry point it runs", 's', NULL,
    G_STRUCT_OFFSET (DevbgTaskInfo, entry_point) },
  { "trigger-type", "the type of trigger that started it", 'e', devbg_trigger_type_get_type,
    G_STRUCT_OFFSET (DevbgTaskInfo, trigger) },
  { "device-id", "the device it runs on", 's', NULL, G_STRUCT_OFFSET (DevbgTaskInfo, device_id) },
  { "uid", "the user it runs as", 'u', NULL, G_STRUCT_OFFSET (DevbgTaskInfo, uid) },
  { "state", "starting, running, canceling, finished; empty in the history", 's', NULL,
    G_STRUCT_OFFSET (DevbgTaskInfo, state) },
  { "progress", "the progress it last reported, 0 to 100; 0 in the history", 'u', NULL,
    G_STRUCT_OFFSET (DevbgTaskInfo, progress) },
  { "started-us", "when it started, in microseconds since the Unix epoch", 'x', NULL,
    G_STRUCT_OFFSET (DevbgTaskInfo, started_us) },
  { "limit-s", "its trigger's wall-clock limit in seconds, 0 when not said", 'u', NULL,
    G_STRUCT_OFFSET (DevbgTaskInfo, limit_s) },
  { "finished", "whether it has ended", 'b', NULL, G_STRUCT_OFFSET (DevbgTaskInfo, finished) },
  { "finished-us", "when it ended (us since the epoch); 0 while it runs", 'x', NULL,
    G_STRUCT_OFFSET (DevbgTaskInfo, finished_us) },
  { "success", "whether it ended successfully", 'b', NULL,
    G_STRUCT_OFFSET (DevbgTaskInfo, success) },
  { "error-message", "the error message of an instance that failed, empty otherwise", 's', NULL,
    G_STRUCT_OFFSET (DevbgTaskInfo, error_message) },
  { "cancel-reason", "the cancel reason word, empty when not canceled", 's', NULL,
    G_STRUCT_OFFSET (DevbgTaskInfo, cancel_reason) },
  { "properties", "all that devbgd said of it, an a{sv} dictionary", 'v', NULL,
    G_STRUCT_OFFSET (DevbgTaskInfo, properties) }
};

/**
 * DevbgTaskInfo:instance-id:
 *
 * The instance's ID.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:task-id:
 *
 * The ID of the registration it runs.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:app-id:
 *
 * The app it belongs to.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:name:
 *
 * The registration's name.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:entry-point:
 *
 * The entry point it runs.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:trigger-type:
 *
 * The type of trigger that started it.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:device-id:
 *
 * The device it runs on.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:uid:
 *
 * The user it runs as.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:state:
 *
 * Its state: starting, running, canceling, finished, or "" from the history.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:progress:
 *
 * The progress it last reported, 0 to 100, while it runs; always 0 for an
 * entry of the history, which keeps no progress.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:started-us:
 *
 * When it started, in microseconds since the Unix epoch.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:limit-s:
 *
 * Its trigger's wall-clock limit in seconds, 0 when not said.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:finished:
 *
 * Whether it has ended.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:finished-us:
 *
 * When it ended, in microseconds since the Unix epoch; 0 while it runs.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:success:
 *
 * Whether it ended successfully.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:error-message:
 *
 * The error message of an instance that failed, "" otherwise.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:cancel-reason:
 *
 * The cancel reason word, "" when not canceled.
 *
 * Since: 0.1
 */
/**
 * DevbgTaskInfo:properties:
 *
 * All that devbgd said of it, an a{sv} dictionary.
 *
 * Since: 0.1
 */

static GVariant *task_info_ensure_properties (DevbgTaskInfo *info);

static void
devbg_task_info_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  /* "properties" is the last: a history entry's is made when asked for. */
  if (id == G_N_ELEMENTS (field_properties))
    task_info_ensure_properties (DEVBG_TASK_INFO (object));
  devbg_field_properties_get (object, field_properties, G_N_ELEMENTS (field_properties), id, value,
                              pspec);
}

static void
devbg_task_info_class_init (DevbgTaskInfoClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = devbg_task_info_finalize;
  G_OBJECT_CLASS (klass)->get_property = devbg_task_info_get_property;
  devbg_field_properties_install (G_OBJECT_CLASS (klass), field_properties,
                                  G_N_ELEMENTS (field_properties));
}

static void
devbg_task_info_init (DevbgTaskInfo *info)
{
}

/* The strings of a DevbgTaskInfo, in the order of task_info_set_strings(). */
enum {
  STRING_INSTANCE_ID,
  STRING_TASK_ID,
  STRING_APP_ID,
  STRING_NAME,
  STRING_ENTRY_POINT,
  STRING_DEVICE_ID,
  STRING_STATE,
  STRING_ERROR_MESSAGE,
  STRING_CANCEL_REASON,
  N_STRINGS
};

/* Copies @values into one block that @info owns and points its string
 * fields into it: one allocation (and one free) instead of nine. */
static void
task_info_set_strings (DevbgTaskInfo *info, const char *const values[N_STRINGS])
{
  char **const slots[N_STRINGS] = {
    &info->instance_id, &info->task_id, &info->app_id, &info->name, &info->entry_point,
    &info->device_id, &info->state, &info->error_message, &info->cancel_reason,
  };
  gsize lengths[N_STRINGS];
  gsize total = 0;
  char *p;

  for (guint i = 0; i < N_STRINGS; i++)
    {
      lengths[i] = strlen (values[i]) + 1;
      total += lengths[i];
    }
  p = info->strings = g_malloc (total);
  for (guint i = 0; i < N_STRINGS; i++)
    {
      memcpy (p, values[i], lengths[i]);
      *slots[i] = p;
      p += lengths[i];
    }
}

/* Points @info's strings at @values, which stay as long as @page does
 * (read-only memory: the getters return const strings): held instead of
 * copied. */
static void
task_info_point_strings (DevbgTaskInfo *info, const char *const values[N_STRINGS],
                         GVariant *page)
{
  char **const slots[N_STRINGS] = {
    &info->instance_id, &info->task_id, &info->app_id, &info->name, &info->entry_point,
    &info->device_id, &info->state, &info->error_message, &info->cancel_reason,
  };

  info->page = g_variant_ref (page);
  for (guint i = 0; i < N_STRINGS; i++)
    *slots[i] = (char *) values[i];
}

static const char *
lookup_string (GVariantDict *dict, const char *key)
{
  const char *value = "";

  g_variant_dict_lookup (dict, key, "&s", &value);
  return value;
}

/* No construct properties: g_object_new() would parse a varargs list. */
static DevbgTaskInfo *
task_info_alloc (void)
{
  return (DevbgTaskInfo *) g_object_new_with_properties (DEVBG_TYPE_TASK_INFO, 0, NULL, NULL);
}

DevbgTaskInfo *
devbg_task_info_new (GVariant *properties)
{
  DevbgTaskInfo *info = task_info_alloc ();
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (properties);
  const char *strings[N_STRINGS];

  info->properties = g_variant_ref_sink (properties);
  /* The strings point into @properties, which @info holds, until copied. */
  strings[STRING_INSTANCE_ID] = lookup_string (&dict, "instance-id");
  strings[STRING_TASK_ID] = lookup_string (&dict, "task-id");
  strings[STRING_APP_ID] = lookup_string (&dict, "app-id");
  strings[STRING_NAME] = lookup_string (&dict, "name");
  strings[STRING_ENTRY_POINT] = lookup_string (&dict, "entry-point");
  strings[STRING_DEVICE_ID] = lookup_string (&dict, "device-id");
  strings[STRING_STATE] = lookup_string (&dict, "state");
  strings[STRING_ERROR_MESSAGE] = lookup_string (&dict, "error");
  strings[STRING_CANCEL_REASON] = lookup_string (&dict, "cancel-reason");
  task_info_set_strings (info, strings);
  if (!g_variant_dict_lookup (&dict, "uid", "u", &info->uid))
    info->uid = 0;
  if (!g_variant_dict_lookup (&dict, "progress", "u", &info->progress))
    info->progress = 0;
  if (!g_variant_dict_lookup (&dict, "started-us", "x", &info->started_us))
    info->started_us = 0;
  if (!g_variant_dict_lookup (&dict, "limit-s", "u", &info->limit_s))
    info->limit_s = 0;
  if (!g_variant_dict_lookup (&dict, "finished-us", "x", &info->finished_us))
    info->finished_us = 0;
  if (!g_variant_dict_lookup (&dict, "success", "b", &info->success))
    info->success = FALSE;
  if (!devbg_trigger_type_from_string (lookup_string (&dict, "trigger"), &info->trigger))
    info->trigger = DEVBG_TRIGGER_USE;
  info->finished = g_variant_dict_contains (&dict, "finished-us");
  return info;
}

DevbgTaskInfo *
devbg_task_info_new_from_history (const DevbgHistoryRecord *r, GVariant *page)
{
  DevbgTaskInfo *info = task_info_alloc ();
  const char *strings[N_STRINGS] = {
    [STRING_INSTANCE_ID] = r->instance_id,
    [STRING_TASK_ID] = r->task_id,
    [STRING_APP_ID] = r->app_id,
    [STRING_NAME] = r->name,
    [STRING_ENTRY_POINT] = r->entry_point,
    [STRING_DEVICE_ID] = r->device_id,
    /* As the a{sv} entries had it: no state key, hence "". */
    [STRING_STATE] = "",
    [STRING_ERROR_MESSAGE] = r->error,
    [STRING_CANCEL_REASON] = r->cancel_reason,
  };

  if (page != NULL)
    task_info_point_strings (info, strings, page);
  else
    task_info_set_strings (info, strings);
  info->trigger = r->trigger;
  info->uid = r->uid;
  info->started_us = r->started_us;
  info->finished_us = r->finished_us;
  info->success = r->success;
  info->finished = TRUE;
  return info;
}

/* A history entry's a{sv}, with the keys, types and order devbgd's
 * dictionaries had: building one costs about as much as the rest of the
 * entry, and few callers look. */
static GVariant *
history_properties (DevbgTaskInfo *info)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "instance-id", g_variant_new_string (info->instance_id));
  g_variant_builder_add (&b, "{sv}", "task-id", g_variant_new_string (info->task_id));
  g_variant_builder_add (&b, "{sv}", "app-id", g_variant_new_string (info->app_id));
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (info->name));
  g_variant_builder_add (&b, "{sv}", "entry-point", g_variant_new_string (info->entry_point));
  g_variant_builder_add (&b, "{sv}", "trigger",
                         g_variant_new_string (devbg_trigger_type_to_string (info->trigger)));
  g_variant_builder_add (&b, "{sv}", "device-id", g_variant_new_string (info->device_id));
  g_variant_builder_add (&b, "{sv}", "uid", g_variant_new_uint32 (info->uid));
  g_variant_builder_add (&b, "{sv}", "started-us", g_variant_new_int64 (info->started_us));
  g_variant_builder_add (&b, "{sv}", "finished-us", g_variant_new_int64 (info->finished_us));
  g_variant_builder_add (&b, "{sv}", "success", g_variant_new_boolean (info->success));
  g_variant_builder_add (&b, "{sv}", "error", g_variant_new_string (info->error_message));
  g_variant_builder_add (&b, "{sv}", "cancel-reason", g_variant_new_string (info->cancel_reason));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* Once, even when two threads ask at the same time. */
static GVariant *
task_info_ensure_properties (DevbgTaskInfo *info)
{
  if (g_once_init_enter (&info->properties))
    g_once_init_leave (&info->properties, history_properties (info));
  return info->properties;
}

/**
 * devbg_task_info_get_instance_id:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the instance's ID
 *
 * Since: 0.1
 */
const char *
devbg_task_info_get_instance_id (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), NULL);
  return info->instance_id;
}

/**
 * devbg_task_info_get_task_id:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the ID of the registration it runs
 *
 * Since: 0.1
 */
const char *
devbg_task_info_get_task_id (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), NULL);
  return info->task_id;
}

/**
 * devbg_task_info_get_app_id:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the app it belongs to
 *
 * Since: 0.1
 */
const char *
devbg_task_info_get_app_id (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), NULL);
  return info->app_id;
}

/**
 * devbg_task_info_get_name:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the registration's name
 *
 * Since: 0.1
 */
const char *
devbg_task_info_get_name (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), NULL);
  return info->name;
}

/**
 * devbg_task_info_get_entry_point:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the entry point it runs
 *
 * Since: 0.1
 */
const char *
devbg_task_info_get_entry_point (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), NULL);
  return info->entry_point;
}

/**
 * devbg_task_info_get_device_id:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the device it runs on
 *
 * Since: 0.1
 */
const char *
devbg_task_info_get_device_id (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), NULL);
  return info->device_id;
}

/**
 * devbg_task_info_get_state:
 * @info: a #DevbgTaskInfo
 *
 * Returns: "starting", "running" or "canceling" while it runs, "finished"
 *   once it ended (or "" from the history)
 *
 * Since: 0.1
 */
const char *
devbg_task_info_get_state (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), NULL);
  return info->state;
}

/**
 * devbg_task_info_get_error_message:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the error message of a finished instance that failed; "" otherwise
 *
 * Since: 0.1
 */
const char *
devbg_task_info_get_error_message (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), NULL);
  return info->error_message;
}

/**
 * devbg_task_info_get_cancel_reason:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the cancel reason word while canceling or once canceled; "" otherwise
 *
 * Since: 0.1
 */
const char *
devbg_task_info_get_cancel_reason (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), NULL);
  return info->cancel_reason;
}

/**
 * devbg_task_info_get_uid:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the user it runs as (the app's user)
 *
 * Since: 0.1
 */
guint32
devbg_task_info_get_uid (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), 0);
  return info->uid;
}

/**
 * devbg_task_info_get_progress:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the progress it last reported, 0 to 100; always 0 for an entry
 *   of the history (devbg_client_get_history_async()), which keeps no
 *   progress
 *
 * Since: 0.1
 */
guint
devbg_task_info_get_progress (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), 0);
  return info->progress;
}

/**
 * devbg_task_info_get_started_us:
 * @info: a #DevbgTaskInfo
 *
 * Returns: when it started, in microseconds since the Unix epoch
 *
 * Since: 0.1
 */
gint64
devbg_task_info_get_started_us (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), 0);
  return info->started_us;
}

/**
 * devbg_task_info_get_limit_s:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the wall-clock limit of its trigger, in seconds; 0 when devbgd did not say
 *
 * Since: 0.1
 */
guint
devbg_task_info_get_limit_s (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), 0);
  return info->limit_s;
}

/**
 * devbg_task_info_get_finished_us:
 * @info: a #DevbgTaskInfo
 *
 * Returns: when it ended, in microseconds since the Unix epoch; 0 while it runs
 *
 * Since: 0.1
 */
gint64
devbg_task_info_get_finished_us (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), 0);
  return info->finished_us;
}

/**
 * devbg_task_info_get_success:
 * @info: a #DevbgTaskInfo
 *
 * Returns: %TRUE if it ended successfully
 *
 * Since: 0.1
 */
gboolean
devbg_task_info_get_success (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), FALSE);
  return info->success;
}

/**
 * devbg_task_info_get_trigger_type:
 * @info: a #DevbgTaskInfo
 *
 * Returns: the type of trigger that started it
 *
 * Since: 0.1
 */
DevbgTriggerType
devbg_task_info_get_trigger_type (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), DEVBG_TRIGGER_USE);
  return info->trigger;
}

/**
 * devbg_task_info_get_finished:
 * @info: a #DevbgTaskInfo
 *
 * Returns: %TRUE if the instance has ended (from the history, or
 *   #DevbgClient::task-ended)
 *
 * Since: 0.1
 */
gboolean
devbg_task_info_get_finished (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), FALSE);
  return info->finished;
}

/**
 * devbg_task_info_get_properties:
 * @info: a #DevbgTaskInfo
 *
 * All that devbgd said of the instance, an `a{sv}` dictionary (see the
 * D-Bus API's ListTasks and History), including keys this library has no
 * getter for.
 *
 * Returns: (transfer none): the properties
 *
 * Since: 0.1
 */
GVariant *
devbg_task_info_get_properties (DevbgTaskInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_TASK_INFO (info), NULL);
  return task_info_ensure_properties (info);
}
